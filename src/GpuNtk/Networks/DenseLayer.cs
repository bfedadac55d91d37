using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>A fully connected layer on <c>[N, in]</c> inputs; see <see cref="Parameterization"/> for its scaling.</summary>
public sealed class DenseLayer : nn.Module<Tensor, Tensor>, IParameterizedLayer
{
#pragma warning disable IDE1006 // PyTorch parameter names
    public readonly Parameter weight;
    public readonly Parameter bias;
#pragma warning restore IDE1006

    public DenseLayer(long inFeatures, long outFeatures, Parameterization parameterization, double wStd, double bStd)
        : base("dense")
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Parameterization = parameterization;
        WeightMultiplier = parameterization == Parameterization.Ntk ? wStd / Math.Sqrt(inFeatures) : 1.0;
        BiasMultiplier = parameterization == Parameterization.Ntk ? bStd : 1.0;
        weight = new Parameter(zeros(outFeatures, inFeatures, ScalarType.Float64));
        bias = new Parameter(zeros(outFeatures, ScalarType.Float64));
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public Parameterization Parameterization { get; }
    public double WeightMultiplier { get; }
    public double BiasMultiplier { get; }
    public long FanIn => InFeatures;

    public override Tensor forward(Tensor x)
    {
        // One fused kernel, BiasMultiplier·b + WeightMultiplier·(x Wᵀ), except in float64 where addmm's float
        // scalars would round the multipliers to single precision.
        if (x.dtype != ScalarType.Float64)
            return addmm(bias, x, weight.t(), beta: (float)BiasMultiplier, alpha: (float)WeightMultiplier);
        using var scope = NewDisposeScope();
        return x.matmul(weight.t()).mul_(WeightMultiplier).add_(bias, alpha: BiasMultiplier).MoveToOuterDisposeScope();
    }

    public void Initialize(Generator generator)
    {
        ParameterInit.Fill(weight, Parameterization, FanIn, generator);
        ParameterInit.Fill(bias, Parameterization, FanIn, generator);
    }
}
