using System.Diagnostics;
using GpuNtk.Kernels.Analytic;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Analytic;

/// <summary>
/// The analytic kernels against the mean of empirical kernels of finite networks (width 1024, 100 seeds):
/// relative Frobenius error below 0.04. The NNGP estimate uses 256 outputs (the output covariance of one seed is a
/// single draw, so it needs seeds × outputs samples); the NTK one the spec's own outputs.
/// </summary>
public sealed class MonteCarloAgreementTests
{
    private const double Tolerance = 0.04;
    private const int Seeds = 100;

    /// <summary>Six inputs with a shared component, so the kernels have real off-diagonal structure.</summary>
    private static Tensor Inputs(long n, params long[] shape)
    {
        using var g = new Generator(2024);
        var common = randn([1, .. shape], ScalarType.Float64, generator: g);
        return randn([n, .. shape], ScalarType.Float64, generator: g).add_(common, alpha: 0.7);
    }

    [TestCase(1, "relu")]
    [TestCase(2, "relu")]
    [TestCase(3, "relu")]
    [TestCase(1, "erf")]
    [TestCase(2, "erf")]
    [TestCase(3, "erf")]
    public void FcnMonteCarloMatchesAnalytic(int depth, string act) =>
        AssertAgreement($"fcn:depth={depth},width=1024,act={act},in=16,out=1", Inputs(6, 16));

    [Test]
    public void CnnMonteCarloMatchesAnalytic() =>
        AssertAgreement("cnn:depth=1,channels=256,act=relu,in=2,size=8,out=1", Inputs(4, 2, 8, 8));

    private static void AssertAgreement(string specText, Tensor x)
    {
        var spec = ArchitectureSpec.Parse(specText);
        var watch = Stopwatch.StartNew();
        using var analytic = AnalyticKernel.FromSpec(spec).Compute(x);
        var analyticTime = watch.Elapsed;
        var nngpSpec = spec switch { FcnSpec f => (ArchitectureSpec)(f with { Outputs = 256 }), CnnSpec c => c with { Outputs = 256 }, _ => spec };
        watch.Restart();
        using var mcNngp = MonteCarloKernel.Estimate(nngpSpec, x, options: new MonteCarloOptions(Seeds, Kinds: KernelKinds.Nngp));
        var nngpTime = watch.Elapsed;
        watch.Restart();
        using var mcNtk = MonteCarloKernel.Estimate(spec, x, options: new MonteCarloOptions(Seeds, Kinds: KernelKinds.Ntk));
        var ntkTime = watch.Elapsed;
        double nngpError = RelativeError(mcNngp.Nngp!, analytic.Nngp!);
        double ntkError = RelativeError(mcNtk.Ntk!, analytic.Ntk!);
        TestContext.Out.WriteLine($"{spec}: relative Frobenius error NNGP {nngpError:F4}, NTK {ntkError:F4} " +
                                  $"(analytic {analyticTime.TotalMilliseconds:F0} ms, MC NNGP {nngpTime.TotalSeconds:F1} s, MC NTK {ntkTime.TotalSeconds:F1} s)");
        Assert.Multiple(() =>
        {
            Assert.That(nngpError, Is.LessThan(Tolerance), "NNGP");
            Assert.That(ntkError, Is.LessThan(Tolerance), "NTK");
        });
    }

    internal static double RelativeError(Tensor estimate, Tensor exact) =>
        (estimate - exact).norm().item<double>() / exact.norm().item<double>();
}
