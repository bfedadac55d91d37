namespace GpuNtk.Networks;

/// <summary>
/// Wide ResNet WRN-depth-k (Zagoruyko &amp; Komodakis 2016) <b>without BatchNorm</b>: conv3×3(16) → three groups of
/// n = (depth−4)/6 pre-activation <see cref="ResidualBlock"/>s with 16k, 32k, 64k channels and strides 1, 2, 2 →
/// φ → global average pooling → Dense(out). BatchNorm is left out on purpose: it couples the examples of a batch,
/// and the NTK and per-example Jacobians need every output to depend on its own input only.
/// </summary>
public sealed record WideResNetSpec : ArchitectureSpec
{
    public override string Kind => "wrn";
    public long Depth { get; init; } = 10;
    public long WidenFactor { get; init; } = 1;
    public override Activation Activation { get; init; } = Activation.Relu;
    public override Parameterization Parameterization { get; init; } = Parameterization.Ntk;
    public long InChannels { get; init; } = 3;
    public long ImageSize { get; init; } = 32;
    public override long Outputs { get; init; } = 10;
    public override double WStd { get; init; } = Math.Sqrt(2);
    public override double BStd { get; init; } = 0.1;
    public override long InputSize => InChannels * ImageSize * ImageSize;
    public long BlocksPerGroup => (Depth - 4) / 6;
    public long[] GroupChannels => [16 * WidenFactor, 32 * WidenFactor, 64 * WidenFactor];

    protected override IEnumerable<(string Key, string Value)> Fields() =>
    [
        ("depth", Depth.ToString()), ("k", WidenFactor.ToString()), ("act", Activation.ToName()),
        ("param", Parameterization.ToName()), ("in", InChannels.ToString()), ("size", ImageSize.ToString()),
        ("out", Outputs.ToString()), ("wstd", Num(WStd)), ("bstd", Num(BStd)),
    ];

    internal static WideResNetSpec FromFields(SpecFields f)
    {
        var act = f.Activation("act", Activation.Relu);
        return new WideResNetSpec
        {
            Depth = f.Long("depth", 10), WidenFactor = f.Long("k", 1), Activation = act,
            Parameterization = f.Parameterization("param", Parameterization.Ntk),
            InChannels = f.Long("in", 3), ImageSize = f.Long("size", 32), Outputs = f.Long("out", 10),
            WStd = f.Double("wstd", DefaultWStd(act)), BStd = f.Double("bstd", 0.1),
        };
    }

    public override void Validate()
    {
        ValidateCommon();
        if (Depth < 10 || (Depth - 4) % 6 != 0) throw new ArgumentException($"{this}: depth must be 6n+4 with n ≥ 1 (10, 16, 22, 28, …)");
        if (WidenFactor < 1) throw new ArgumentException($"{this}: k must be ≥ 1");
        if (InChannels < 1) throw new ArgumentException($"{this}: in must be ≥ 1");
        if (ImageSize < 4 || ImageSize % 4 != 0) throw new ArgumentException($"{this}: size must be a multiple of 4 (two stride-2 groups)");
    }

    /// <summary>Parameter count from the block structure (convs with bias, 1×1 shortcuts where the shape changes).</summary>
    public long ParameterCount
    {
        get
        {
            static long Conv(long cin, long cout, long k) => (cin * k * k + 1) * cout;
            long total = Conv(InChannels, 16, 3);
            long c = 16;
            for (int g = 0; g < 3; g++)
            {
                long w = GroupChannels[g];
                for (long b = 0; b < BlocksPerGroup; b++)
                {
                    long stride = b == 0 && g > 0 ? 2 : 1;
                    total += Conv(c, w, 3) + Conv(w, w, 3);
                    if (stride != 1 || c != w) total += Conv(c, w, 1);
                    c = w;
                }
            }
            return total + (c + 1) * Outputs;
        }
    }
}
