using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>A 2-D convolution, square kernel, SAME padding (k/2); see <see cref="Parameterization"/> for its scaling.</summary>
public sealed class Conv2dLayer : nn.Module<Tensor, Tensor>, IParameterizedLayer
{
#pragma warning disable IDE1006 // PyTorch parameter names
    public readonly Parameter weight;
    public readonly Parameter bias;
#pragma warning restore IDE1006

    public Conv2dLayer(long inChannels, long outChannels, long kernelSize, long stride,
        Parameterization parameterization, double wStd, double bStd)
        : base("conv")
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = kernelSize / 2;
        Parameterization = parameterization;
        WeightMultiplier = parameterization == Parameterization.Ntk ? wStd / Math.Sqrt(FanIn) : 1.0;
        BiasMultiplier = parameterization == Parameterization.Ntk ? bStd : 1.0;
        weight = new Parameter(zeros(outChannels, inChannels, kernelSize, kernelSize, ScalarType.Float64));
        bias = new Parameter(zeros(outChannels, ScalarType.Float64));
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public long KernelSize { get; }
    public long Stride { get; }
    public long Padding { get; }
    public Parameterization Parameterization { get; }
    public double WeightMultiplier { get; }
    public double BiasMultiplier { get; }
    public long FanIn => InChannels * KernelSize * KernelSize;

    public override Tensor forward(Tensor x)
    {
        if (Parameterization == Parameterization.Standard)
            return OneDnnSafeConv2d.Apply(x, weight, bias, Stride, Padding);
        // Scaling the (small) kernel is cheaper than scaling the (large) output.
        using var w = weight * WeightMultiplier;
        using var b = bias * BiasMultiplier;
        return OneDnnSafeConv2d.Apply(x, w, b, Stride, Padding);
    }

    public void Initialize(Generator generator)
    {
        ParameterInit.Fill(weight, Parameterization, FanIn, generator);
        ParameterInit.Fill(bias, Parameterization, FanIn, generator);
    }
}
