namespace GpuNtk.Networks;

/// <summary>
/// Myrtle-style convolutional network: conv3×3(channels) → φ, then three stages of <see cref="Depth"/> × [conv3×3 → φ],
/// the first two followed by 2×2 average pooling and the last by global average pooling, then Dense(out).
/// depth=1 is Myrtle-5, 2 is Myrtle-7, 3 is Myrtle-10. Inputs are <c>[N, in, size, size]</c> or flat <c>[N, in·size²]</c>.
/// </summary>
public sealed record CnnSpec : ImageSpec
{
    public override string Kind => "cnn";
    public long Depth { get; init; } = 1;
    public long Channels { get; init; } = 64;

    protected override IEnumerable<(string Key, string? Value)> Fields() =>
        [("depth", Depth.ToString()), ("channels", Channels.ToString()), .. ImageFields()];

    internal static CnnSpec FromFields(SpecFields f) =>
        ReadImageFields(new CnnSpec { Depth = f.Long("depth", 1), Channels = f.Long("channels", 64) }, f);

    public override void Validate()
    {
        ValidateImage("two 2×2 poolings");
        if (Depth < 0) throw new ArgumentException($"{this}: depth must be ≥ 0");
        if (Channels < 1) throw new ArgumentException($"{this}: channels must be ≥ 1");
    }

    /// <summary>Parameter count: stem + 3·depth convs of (9·C + 1)·C, plus the readout.</summary>
    public long ParameterCount =>
        (9 * InChannels + 1) * Channels + 3 * Depth * (9 * Channels + 1) * Channels + (Channels + 1) * Outputs;
}
