using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.MonteCarlo;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.MonteCarlo;

public sealed class MonteCarloKernelTests
{
    [Test]
    public void LinearNetworksAreUnbiasedAtAnyWidthAndTheStandardErrorsAreCalibrated()
    {
        // With φ = identity, E over the weights of the empirical NNGP and NTK equals the analytic kernels exactly,
        // even at width 16, so the estimate must lie within a few standard errors of them.
        var spec = ArchitectureSpec.Parse("fcn:depth=2,width=16,act=identity,in=5,out=4,bstd=0.3");
        using var g = new Generator(3);
        var x = randn([5, 5], ScalarType.Float64, generator: g);
        using var analytic = AnalyticKernel.FromSpec(spec).Compute(x);
        using var mc = MonteCarloKernel.Estimate(spec, x, options: new MonteCarloOptions(Seeds: 400));
        Assert.That(mc.Seeds, Is.EqualTo(400));
        foreach (var (name, mean, se, exact) in new[] { ("NNGP", mc.Nngp!, mc.NngpStdError!, analytic.Nngp!), ("NTK", mc.Ntk!, mc.NtkStdError!, analytic.Ntk!) })
        {
            double maxZ = ((mean - exact).abs() / se).max().item<double>();
            TestContext.Out.WriteLine($"{name}: max |estimate − exact|/standard error = {maxZ:F2}");
            Assert.That(maxZ, Is.LessThan(5), name);
            Assert.That(se.min().item<double>(), Is.GreaterThan(0), $"{name}: the standard errors are not degenerate");
        }
    }

    [TestCase("cnn:depth=1,channels=32,act=identity,in=2,size=8,out=1", 4, 300)]
    [TestCase("wrn:depth=10,k=2,act=identity,in=1,size=8,out=1", 3, 150)]
    public void LinearConvolutionalNetworksAreUnbiasedAtAnyWidth(string text, int n, int seeds)
    {
        // The same exact-expectation check for convolutions with zero padding, average and global pooling, residual
        // sums, 1×1 and stride-2 convolutions: any systematic error in those rules shows as a large z-score, however
        // small it is relative to the kernel.
        var spec = ArchitectureSpec.Parse(text);
        using var g = new Generator(8);
        var x = randn([n, spec.InputSize], ScalarType.Float64, generator: g);
        using var analytic = AnalyticKernel.FromSpec(spec).Compute(x);
        // Many outputs make the NNGP estimate (forward passes only) precise; the NTK concentrates with one.
        var manyOutputs = spec switch { CnnSpec c => (ArchitectureSpec)(c with { Outputs = 256 }), WideResNetSpec w => w with { Outputs = 256 }, _ => spec };
        using var mcNngp = MonteCarloKernel.Estimate(manyOutputs, x, options: new MonteCarloOptions(seeds, Kinds: KernelKinds.Nngp));
        using var mc = MonteCarloKernel.Estimate(spec, x, options: new MonteCarloOptions(seeds, Kinds: KernelKinds.Ntk));
        foreach (var (name, mean, se, exact) in new[] { ("NNGP", mcNngp.Nngp!, mcNngp.NngpStdError!, analytic.Nngp!), ("NTK", mc.Ntk!, mc.NtkStdError!, analytic.Ntk!) })
        {
            double maxZ = ((mean - exact).abs() / se).max().item<double>();
            double relative = MonteCarloAgreementTests.RelativeError(mean, exact);
            TestContext.Out.WriteLine($"{text} {name}: max z = {maxZ:F2}, relative error {relative:F4}");
            Assert.That(maxZ, Is.LessThan(5), name);
        }
    }

    [Test]
    public void CrossKernelsAndOptionsValidation()
    {
        var spec = ArchitectureSpec.Parse("fcn:depth=1,width=8,in=3,out=2");
        var x1 = randn(4, 3, ScalarType.Float64);
        var x2 = randn(2, 3, ScalarType.Float64);
        using var cross = MonteCarloKernel.Estimate(spec, x1, x2, new MonteCarloOptions(Seeds: 3, Kinds: KernelKinds.Nngp, BatchSize: 3));
        Assert.That(cross.Nngp!.shape, Is.EqualTo(new long[] { 4, 2 }));
        Assert.That(cross.Ntk, Is.Null);
        // Seed s of the estimate is the network NetworkFactory builds with seed FirstSeed + s.
        using var single = MonteCarloKernel.Estimate(spec, x1, x2, new MonteCarloOptions(Seeds: 2, FirstSeed: 5, Kinds: KernelKinds.Nngp));
        using var n5 = NetworkFactory.Create(spec, 5, ScalarType.Float64);
        using var n6 = NetworkFactory.Create(spec, 6, ScalarType.Float64);
        var expected = (n5.forward(x1).matmul(n5.forward(x2).t()) + n6.forward(x1).matmul(n6.forward(x2).t())) / 4;
        Assert.That(single.Nngp!.allclose(expected, rtol: 1e-12, atol: 1e-12));
        Assert.Throws<ArgumentException>(() => MonteCarloKernel.Estimate(spec, x1, null, new MonteCarloOptions(Seeds: 1)));
    }
}
