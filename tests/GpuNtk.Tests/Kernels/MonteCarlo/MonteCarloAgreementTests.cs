using System.Diagnostics;
using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.MonteCarlo;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.MonteCarlo;

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
    public void FcnWithLayerNormMonteCarloMatchesAnalytic() =>
        AssertAgreement("fcn:depth=2,width=1024,act=relu,norm=layer,in=16,out=1", Inputs(6, 16), seeds: 40);

    [Test]
    public void CnnMonteCarloMatchesAnalytic() =>
        AssertAgreement("cnn:depth=1,channels=256,act=relu,in=2,size=8,out=1", Inputs(4, 2, 8, 8));

    [Test]
    public void WideResNetMonteCarloMatchesAnalytic()
    {
        // Residual sums, a 1×1 shortcut, stride-2 convolutions. The factory's WRN has a 16-channel stem whatever k —
        // a finite bottleneck the limit does not see — so the networks here are the same blocks with every layer wide
        // (stem 192, groups 256), checked to have the structure of wrn:depth=10,k=2 first.
        var spec = (WideResNetSpec)ArchitectureSpec.Parse("wrn:depth=10,k=2,act=relu,in=1,size=8,out=1");
        var x = Inputs(3, 1, 8, 8);
        using var ntkNet = WideWrn(spec, outputs: 1);
        using var nngpNet = WideWrn(spec, outputs: 256);
        var kernel = AnalyticKernel.FromSpec(spec);
        Assert.That(AnalyticKernel.FromNetwork(ntkNet).ToString(), Is.EqualTo(kernel.ToString()), "same structure as the spec");
        using var analytic = kernel.Compute(x);
        var watch = Stopwatch.StartNew();
        using var mcNngp = MonteCarloKernel.Estimate(nngpNet, x, null, new MonteCarloOptions(20, Kinds: KernelKinds.Nngp));
        using var mcNtk = MonteCarloKernel.Estimate(ntkNet, x, null, new MonteCarloOptions(20, Kinds: KernelKinds.Ntk));
        double nngpError = RelativeError(mcNngp.Nngp!, analytic.Nngp!), ntkError = RelativeError(mcNtk.Ntk!, analytic.Ntk!);
        TestContext.Out.WriteLine($"wide WRN-10 (20 seeds): relative Frobenius error NNGP {nngpError:F4}, NTK {ntkError:F4} ({watch.Elapsed.TotalSeconds:F1} s)");
        Assert.That(nngpError, Is.LessThan(Tolerance), "NNGP");
        Assert.That(ntkError, Is.LessThan(Tolerance), "NTK");
    }

    private static Network WideWrn(WideResNetSpec spec, long outputs)
    {
        var (p, act, w, b) = (spec.Parameterization, spec.Activation, spec.WStd, spec.BStd);
        return new Network(spec with { Outputs = outputs },
        [
            new ToImageLayer(spec.InChannels, spec.ImageSize),
            new Conv2dLayer(spec.InChannels, 192, 3, 1, p, w, b),
            new ResidualBlock(192, 256, 1, act, p, w, b),
            new ResidualBlock(256, 256, 2, act, p, w, b),
            new ResidualBlock(256, 256, 2, act, p, w, b),
            new ActivationLayer(act),
            new GlobalAveragePoolLayer(),
            new DenseLayer(256, outputs, p, w, b),
        ]);
    }

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
