namespace GpuNtk.Networks;

/// <summary>
/// Wide ResNet WRN-depth-k (Zagoruyko &amp; Komodakis 2016) <b>without BatchNorm</b>: conv3×3(16) → three groups of
/// n = (depth−4)/6 pre-activation <see cref="ResidualBlock"/>s with 16k, 32k, 64k channels and strides 1, 2, 2 →
/// φ → global average pooling → Dense(out). BatchNorm is left out on purpose: it couples the examples of a batch,
/// and the NTK and per-example Jacobians need every output to depend on its own input only.
/// </summary>
public sealed record WideResNetSpec : ImageSpec
{
    public override string Kind => "wrn";
    public long Depth { get; init; } = 10;
    public long WidenFactor { get; init; } = 1;
    public long BlocksPerGroup => (Depth - 4) / 6;
    public long[] GroupChannels => [16 * WidenFactor, 32 * WidenFactor, 64 * WidenFactor];

    protected override IEnumerable<(string Key, string? Value)> Fields() =>
        [("depth", Depth.ToString()), ("k", WidenFactor.ToString()), .. ImageFields()];

    internal static WideResNetSpec FromFields(SpecFields f) =>
        ReadImageFields(new WideResNetSpec { Depth = f.Long("depth", 10), WidenFactor = f.Long("k", 1) }, f);

    public override void Validate()
    {
        ValidateImage("two stride-2 groups");
        if (Depth < 10 || (Depth - 4) % 6 != 0) throw new ArgumentException($"{this}: depth must be 6n+4 with n ≥ 1 (10, 16, 22, 28, …)");
        if (WidenFactor < 1) throw new ArgumentException($"{this}: k must be ≥ 1");
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
