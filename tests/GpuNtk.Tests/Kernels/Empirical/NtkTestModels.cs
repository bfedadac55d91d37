using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>Small models and helpers shared by the empirical NTK tests (float64 unless a test says otherwise).</summary>
internal static class NtkTestModels
{
    public const string Fcn = "fcn:depth=2,width=16,in=12,out=3";
    public const string Cnn = "cnn:depth=1,channels=4,size=8,out=3";
    public const string Wrn = "wrn:depth=10,size=8,out=3";

    public static readonly NtkImplementation[] Fast =
        [NtkImplementation.Structured, NtkImplementation.JacobianContraction, NtkImplementation.VectorProducts];

    public static Tensor Inputs(nn.Module<Tensor, Tensor> net, long n, long inputSize, ulong seed, ScalarType dtype = ScalarType.Float64)
    {
        using var g = new Generator(seed);
        return randn([n, inputSize], ScalarType.Float64, CPU, generator: g).to(dtype);
    }

    public static Tensor Inputs(Network net, long n, ulong seed, ScalarType dtype = ScalarType.Float64) =>
        Inputs(net, n, net.Spec.InputSize, seed, dtype);

    /// <summary>max |a − b| / max |b|.</summary>
    public static double RelativeError(Tensor a, Tensor b)
    {
        Assert.That(a.shape, Is.EqualTo(b.shape), "shapes");
        using var scope = NewDisposeScope();
        return (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>()
               / b.to(ScalarType.Float64).abs().max().item<double>();
    }

    /// <summary>The full kernel <c>[N, N, O, O]</c> as the <c>[N·O, N·O]</c> matrix with rows i·O + a.</summary>
    public static Tensor AsMatrix(Tensor full)
    {
        long n1 = full.shape[0], n2 = full.shape[1], o = full.shape[2];
        return full.permute(0, 2, 1, 3).reshape(n1 * o, n2 * o);
    }
}
