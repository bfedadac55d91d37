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

    [Test]
    public void WideResNetMonteCarloMatchesAnalytic() =>
        // Residual sums, 1×1 and stride-2 convolutions. 128–512 channels and 20 seeds to stay cheap; the stem has 16
        // channels whatever k, a finite bottleneck with an O(1/16) bias, hence the looser tolerance.
        AssertAgreement("wrn:depth=10,k=8,act=relu,in=1,size=8,out=1", Inputs(3, 1, 8, 8), seeds: 20, tolerance: 0.05);

    private static void AssertAgreement(string specText, Tensor x, int seeds = Seeds, double tolerance = Tolerance)
    {
        var spec = ArchitectureSpec.Parse(specText);
        var watch = Stopwatch.StartNew();
        using var analytic = AnalyticKernel.FromSpec(spec).Compute(x);
        var analyticTime = watch.Elapsed;
        var nngpSpec = spec switch { FcnSpec f => (ArchitectureSpec)(f with { Outputs = 256 }), CnnSpec c => c with { Outputs = 256 }, WideResNetSpec w => w with { Outputs = 256 }, _ => spec };
        watch.Restart();
        using var mcNngp = MonteCarloKernel.Estimate(nngpSpec, x, options: new MonteCarloOptions(seeds, Kinds: KernelKinds.Nngp));
        var nngpTime = watch.Elapsed;
        watch.Restart();
        using var mcNtk = MonteCarloKernel.Estimate(spec, x, options: new MonteCarloOptions(seeds, Kinds: KernelKinds.Ntk));
        var ntkTime = watch.Elapsed;
        double nngpError = RelativeError(mcNngp.Nngp!, analytic.Nngp!);
        double ntkError = RelativeError(mcNtk.Ntk!, analytic.Ntk!);
        TestContext.Out.WriteLine($"{spec}: relative Frobenius error NNGP {nngpError:F4}, NTK {ntkError:F4} " +
                                  $"(analytic {analyticTime.TotalMilliseconds:F0} ms, MC NNGP {nngpTime.TotalSeconds:F1} s, MC NTK {ntkTime.TotalSeconds:F1} s)");
        Assert.Multiple(() =>
        {
            Assert.That(nngpError, Is.LessThan(tolerance), "NNGP");
            Assert.That(ntkError, Is.LessThan(tolerance), "NTK");
        });
    }

    internal static double RelativeError(Tensor estimate, Tensor exact) =>
        (estimate - exact).norm().item<double>() / exact.norm().item<double>();
}
