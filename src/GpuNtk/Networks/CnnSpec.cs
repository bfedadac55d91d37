namespace GpuNtk.Networks;

/// <summary>
/// Myrtle-style convolutional network: conv3×3(channels) → φ, then three stages of <see cref="Depth"/> × [conv3×3 → φ],
/// the first two followed by 2×2 average pooling and the last by global average pooling, then Dense(out).
/// depth=1 is Myrtle-5, 2 is Myrtle-7, 3 is Myrtle-10. Inputs are <c>[N, in, size, size]</c> or flat <c>[N, in·size²]</c>.
/// </summary>
public sealed record CnnSpec : ArchitectureSpec
{
    public override string Kind => "cnn";
    public long Depth { get; init; } = 1;
    public long Channels { get; init; } = 64;
    public override Activation Activation { get; init; } = Activation.Relu;
    public override Parameterization Parameterization { get; init; } = Parameterization.Ntk;
    public long InChannels { get; init; } = 3;
    public long ImageSize { get; init; } = 32;
    public override long Outputs { get; init; } = 10;
    public override double WStd { get; init; } = Math.Sqrt(2);
    public override double BStd { get; init; } = 0.1;
    public override long InputSize => InChannels * ImageSize * ImageSize;

    protected override IEnumerable<(string Key, string Value)> Fields() =>
    [
        ("depth", Depth.ToString()), ("channels", Channels.ToString()), ("act", Activation.ToName()),
        ("param", Parameterization.ToName()), ("in", InChannels.ToString()), ("size", ImageSize.ToString()),
        ("out", Outputs.ToString()), ("wstd", Num(WStd)), ("bstd", Num(BStd)),
    ];

    internal static CnnSpec FromFields(SpecFields f)
    {
        var act = f.Activation("act", Activation.Relu);
        return new CnnSpec
        {
            Depth = f.Long("depth", 1), Channels = f.Long("channels", 64), Activation = act,
            Parameterization = f.Parameterization("param", Parameterization.Ntk),
            InChannels = f.Long("in", 3), ImageSize = f.Long("size", 32), Outputs = f.Long("out", 10),
            WStd = f.Double("wstd", DefaultWStd(act)), BStd = f.Double("bstd", 0.1),
        };
    }

    public override void Validate()
    {
        ValidateCommon();
        if (Depth < 0) throw new ArgumentException($"{this}: depth must be ≥ 0");
        if (Channels < 1) throw new ArgumentException($"{this}: channels must be ≥ 1");
        if (InChannels < 1) throw new ArgumentException($"{this}: in must be ≥ 1");
        if (ImageSize < 4 || ImageSize % 4 != 0) throw new ArgumentException($"{this}: size must be a multiple of 4 (two 2×2 poolings)");
    }

    /// <summary>Parameter count: stem + 3·depth convs of (9·C + 1)·C, plus the readout.</summary>
    public long ParameterCount =>
        (9 * InChannels + 1) * Channels + 3 * Depth * (9 * Channels + 1) * Channels + (Channels + 1) * Outputs;
}
