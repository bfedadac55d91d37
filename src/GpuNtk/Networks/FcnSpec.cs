namespace GpuNtk.Networks;

/// <summary>
/// Fully connected network: flatten → [Dense(width) → φ] × <see cref="Depth"/> → Dense(out).
/// <c>depth</c> counts hidden layers: <c>fcn:depth=2,width=256,in=3072,out=10</c> is 3072-256-256-10.
/// <c>norm=layer</c> puts a parameter-free <see cref="LayerNormLayer"/> between each hidden dense layer and its φ.
/// </summary>
public sealed record FcnSpec : ArchitectureSpec
{
    public override string Kind => "fcn";
    public long Depth { get; init; } = 2;
    public long Width { get; init; } = 512;
    public override Activation Activation { get; init; } = Activation.Relu;
    public override Parameterization Parameterization { get; init; } = Parameterization.Ntk;
    public long Inputs { get; init; } = 3072;
    public override long Outputs { get; init; } = 10;
    public override double WStd { get; init; } = Math.Sqrt(2);
    public override double BStd { get; init; } = 0.1;
    public override long InputSize => Inputs;
    /// <summary>Whether a <see cref="LayerNormLayer"/> follows every hidden dense layer (key <c>norm=layer</c>; default <c>none</c>).</summary>
    public bool LayerNorm { get; init; }

    protected override IEnumerable<(string Key, string? Value)> Fields() =>
    [
        ("depth", Depth.ToString()), ("width", Width.ToString()), ("act", Activation.ToName()),
        ("param", Parameterization.ToName()), ("in", Inputs.ToString()), ("out", Outputs.ToString()),
        ("wstd", Num(WStd)), ("bstd", Num(BStd)), ("norm", LayerNorm ? "layer" : null),
    ];

    internal static FcnSpec FromFields(SpecFields f)
    {
        var act = f.Activation("act", Activation.Relu);
        return new FcnSpec
        {
            Depth = f.Long("depth", 2), Width = f.Long("width", 512), Activation = act,
            Parameterization = f.Parameterization("param", Parameterization.Ntk),
            Inputs = f.Long("in", 3072), Outputs = f.Long("out", 10),
            WStd = f.Double("wstd", DefaultWStd(act)), BStd = f.Double("bstd", 0.1),
            LayerNorm = f.Choice("norm", false, ("none", false), ("layer", true)),
        };
    }

    public override void Validate()
    {
        ValidateCommon();
        if (Depth < 0) throw new ArgumentException($"{this}: depth must be ≥ 0");
        if (Width < 1) throw new ArgumentException($"{this}: width must be ≥ 1");
        if (Inputs < 1) throw new ArgumentException($"{this}: in must be ≥ 1");
    }

    /// <summary>Parameter count: Σ over dense layers of (fan_in + 1)·fan_out.</summary>
    public long ParameterCount => Depth == 0
        ? (Inputs + 1) * Outputs
        : (Inputs + 1) * Width + (Depth - 1) * (Width + 1) * Width + (Width + 1) * Outputs;
}
