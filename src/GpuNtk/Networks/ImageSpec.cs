namespace GpuNtk.Networks;

/// <summary>
/// What the image architectures (<see cref="CnnSpec"/>, <see cref="WideResNetSpec"/>) share: inputs
/// <c>[N, in, size, size]</c> (or flat), the activation, parameterization, outputs and σ's, and those keys of the spec
/// string, which follow each kind's own keys in print order.
/// </summary>
public abstract record ImageSpec : ArchitectureSpec
{
    public override Activation Activation { get; init; } = Activation.Relu;
    public override Parameterization Parameterization { get; init; } = Parameterization.Ntk;
    public long InChannels { get; init; } = 3;
    public long ImageSize { get; init; } = 32;
    public override long Outputs { get; init; } = 10;
    public override double WStd { get; init; } = Math.Sqrt(2);
    public override double BStd { get; init; } = 0.1;
    public override long InputSize => InChannels * ImageSize * ImageSize;

    /// <summary>The shared keys, in print order.</summary>
    protected IEnumerable<(string Key, string? Value)> ImageFields() =>
    [
        ("act", Activation.ToName()), ("param", Parameterization.ToName()), ("in", InChannels.ToString()),
        ("size", ImageSize.ToString()), ("out", Outputs.ToString()), ("wstd", Num(WStd)), ("bstd", Num(BStd)),
    ];

    /// <summary><paramref name="spec"/> (its own keys already read) with the shared keys read from <paramref name="f"/>.</summary>
    internal static T ReadImageFields<T>(T spec, SpecFields f) where T : ImageSpec
    {
        var act = f.Activation("act", Activation.Relu);
        return (T)(spec with
        {
            Activation = act, Parameterization = f.Parameterization("param", Parameterization.Ntk),
            InChannels = f.Long("in", 3), ImageSize = f.Long("size", 32), Outputs = f.Long("out", 10),
            WStd = f.Double("wstd", DefaultWStd(act)), BStd = f.Double("bstd", 0.1),
        });
    }

    /// <summary>Checks the shared fields; <paramref name="whySizeDividesBy4"/> says what halves the image twice.</summary>
    protected void ValidateImage(string whySizeDividesBy4)
    {
        ValidateCommon();
        if (InChannels < 1) throw new ArgumentException($"{this}: in must be ≥ 1");
        if (ImageSize < 4 || ImageSize % 4 != 0) throw new ArgumentException($"{this}: size must be a multiple of 4 ({whySizeDividesBy4})");
    }
}
