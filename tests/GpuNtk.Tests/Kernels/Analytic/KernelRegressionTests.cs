using GpuNtk.Dynamics.Predictors;
using GpuNtk.Kernels.Analytic;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Analytic;

public sealed class KernelRegressionTests
{
    private static (Tensor X, Tensor Y) Data(long n, ulong seed)
    {
        using var g = new Generator(seed);
        var x = randn([n, 6], ScalarType.Float64, generator: g);
        var y = randn([n, 3], ScalarType.Float64, generator: g);
        return (x, y);
    }

    [Test]
    public void MeanIsTheRegularisedSolve()
    {
        var kernel = AnalyticKernel.FromSpec("fcn:depth=2,act=relu,in=6");
        var (x, y) = Data(12, 1);
        var (xt, _) = Data(5, 2);
        var k = kernel.Ntk(x);
        var kt = kernel.Ntk(xt, x);
        using var regression = KernelRegression.Fit(k, y, diagonalRegularizer: 0.1);
        double lambda = 0.1 * k.diagonal().mean().item<double>();
        Assert.That(regression.Lambda, Is.EqualTo(lambda).Within(1e-12 * lambda), "λ is relative to the mean diagonal");
        var expected = kt.matmul(linalg.inv(k + eye(12, dtype: ScalarType.Float64) * lambda)).matmul(y);
        Assert.That(regression.PredictMean(kt).allclose(expected, rtol: 1e-9, atol: 1e-10));
        using var vector = KernelRegression.Fit(k, y[.., 1], 0.1);
        using var mean1 = vector.PredictMean(kt);
        Assert.That(mean1.shape, Is.EqualTo(new long[] { 5 }));
        Assert.That(mean1.allclose(expected[.., 1], rtol: 1e-9, atol: 1e-10), "[N] targets give [M] predictions");
    }

    [Test]
    public void UnregularisedPredictorsInterpolateTheTrainingSet()
    {
        var kernel = AnalyticKernel.FromSpec("fcn:depth=2,act=erf,in=6");
        var (x, y) = Data(10, 3);
        using var ntk = InfiniteWidthPredictor.Ensemble(kernel, x, y, x, learningRate: 1, t: double.PositiveInfinity);
        using var nngp = InfiniteWidthPredictor.NngpPosterior(kernel, x, y, x);
        Assert.That(ntk.Mean.allclose(y, rtol: 0, atol: 1e-8), "trained to convergence: zero training error");
        Assert.That(nngp.Mean.allclose(y, rtol: 0, atol: 1e-8), "noise-free posterior mean");
        Assert.That(ntk.Covariance!.abs().max().item<double>(), Is.LessThan(1e-8), "no spread left on the training set");
        Assert.That(nngp.Covariance!.abs().max().item<double>(), Is.LessThan(1e-8));
    }

    [Test]
    public void EnsembleMatchesTheClosedFormOfLee2019()
    {
        // t = ∞ (eq. 16) with explicit inverses, and t = 0 (the NNGP prior, zero mean), through the linearization
        // helper's ensemble predictor fed with the analytic kernels.
        var kernel = AnalyticKernel.FromSpec("fcn:depth=1,act=relu,in=6");
        var (x, y) = Data(9, 4);
        var (xt, _) = Data(4, 5);
        using var train = kernel.Compute(x);
        using var cross = kernel.Compute(xt, x);
        using var test = kernel.Compute(xt);
        using var p = InfiniteWidthPredictor.Ensemble(kernel, x, y, xt, learningRate: 0.5, t: double.PositiveInfinity);
        var a = cross.Ntk!.matmul(linalg.inv(train.Ntk!));                           // Θ*Θ⁻¹
        var cov = test.Nngp! - a.matmul(cross.Nngp!.t()) - cross.Nngp!.matmul(a.t()) + a.matmul(train.Nngp!).matmul(a.t());
        Assert.That(p.Covariance!.allclose(cov, rtol: 1e-7, atol: 1e-9));
        Assert.That(p.Mean.allclose(a.matmul(y), rtol: 1e-7, atol: 1e-9));
        using var start = InfiniteWidthPredictor.Ensemble(kernel, x, y, xt, learningRate: 0.5, t: 0);
        Assert.That(start.Mean.abs().max().item<double>(), Is.LessThan(1e-12), "untrained: zero mean");
        Assert.That(start.Covariance!.allclose(test.Nngp!, rtol: 1e-10, atol: 1e-12), "untrained: the NNGP prior");
        using var late = InfiniteWidthPredictor.Ensemble(kernel, x, y, xt, learningRate: 0.5, t: 1e7);
        Assert.That(late.Mean.allclose(p.Mean, rtol: 1e-6, atol: 1e-8), "t → ∞");
    }

    [Test]
    public void NotPositiveDefiniteNamesTheRemedy()
    {
        var x = ones(4, 6, ScalarType.Float64);                                      // four identical inputs: rank 1
        var k = AnalyticKernel.FromSpec("fcn:depth=1,act=relu,in=6").Ntk(x);
        var e = Assert.Throws<ArgumentException>(() => KernelRegression.Fit(k, zeros(4, ScalarType.Float64)));
        Assert.That(e!.Message, Does.Contain("regularizer"));
        using var regularised = KernelRegression.Fit(k, zeros(4, ScalarType.Float64), 1e-6);
        Assert.Throws<ArgumentException>(() => KernelRegression.Fit(k, zeros(5, ScalarType.Float64)), "target count");
    }
}
