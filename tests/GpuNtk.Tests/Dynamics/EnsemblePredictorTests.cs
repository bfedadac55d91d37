using GpuNtk.Dynamics.Predictors;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Dynamics.DynamicsTestHelpers;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

public sealed class EnsemblePredictorTests
{
    private const long N = 5, M = 3, O = 2;

    private static Tensor Psd(long size, long features, ulong seed)
    {
        using var g = new Generator(seed);
        var phi = randn([size, features], ScalarType.Float64, generator: g);
        return phi.matmul(phi.t()).div_(features);
    }

    /// <summary>
    /// The oracle: f_t* = f0* + L·(f0 − y) is linear in the initial outputs; read L off the single-network predictor
    /// column by column, then push f0 ~ GP(0, K) through it: mean −L·y, covariance K** + L·K·Lᵀ + L·K_X* + K_*X·Lᵀ.
    /// </summary>
    private static (Tensor Mean, Tensor Cov) Oracle(Tensor ntk, Tensor nngp, Tensor y, double eta, double t, DynamicsOptions options)
    {
        var ntkTrain = ntk[..(int)N, ..(int)N];
        var ntkTestTrain = ntk[(int)N.., ..(int)N];
        // O outputs as in the ensemble: the rate η/(N·O) depends on O even though each output evolves alone.
        using var single = Predict.GradientDescentMse(ntkTrain, zeros(N, O, ScalarType.Float64), eta, options);
        var columns = new List<Tensor>();
        for (int i = 0; i < N; i++)
        {
            var e = zeros(N, O, ScalarType.Float64);
            e[i] = ones(O, ScalarType.Float64);
            using var p = single.At(t, e, zeros(M, O, ScalarType.Float64), ntkTestTrain);
            columns.Add(p.Test![.., 0]);
        }
        var l = stack(columns, 1); // [M, N]
        var k = nngp[..(int)N, ..(int)N];
        var kst = nngp[(int)N.., ..(int)N];
        var kss = nngp[(int)N.., (int)N..];
        var cov = kss.add(l.matmul(k).matmul(l.t())).add(l.matmul(kst.t())).add(kst.matmul(l.t()));
        return (l.matmul(y).neg(), cov);
    }

    [TestCase(TrainingProcess.GradientFlow, 0.0, 3.5)]
    [TestCase(TrainingProcess.GradientDescent, 0.0, 7)]
    [TestCase(TrainingProcess.GradientDescent, 0.6, 7)]
    public void MeanAndCovarianceMatchTheLinearPushForwardOfTheInitialGaussian(TrainingProcess process, double beta, double t)
    {
        var ntk = Psd(N + M, 12, 1);
        var nngp = Psd(N + M, 12, 2);
        var y = Targets(N, O, 3);
        var options = new DynamicsOptions(process, beta);
        using var ensemble = Predict.GradientDescentMseEnsemble(ntk[..(int)N, ..(int)N], nngp[..(int)N, ..(int)N], y, 1.5, options);
        using var g = ensemble.At(t, ntk[(int)N.., ..(int)N], nngp[(int)N.., ..(int)N], nngp[(int)N.., (int)N..]);
        var (mean, cov) = Oracle(ntk, nngp, y, 1.5, t, options);
        Assert.That(MaxAbs(g.Mean, mean), Is.LessThan(1e-10));
        Assert.That(MaxAbs(g.Covariance!, cov), Is.LessThan(1e-10));
        Assert.That(g.Covariance!.shape, Is.EqualTo(new[] { M, M }));
    }

    [Test]
    public void InfiniteTimeIsTheNtkGaussianProcessPosteriorOfLeeEtAl()
    {
        var ntk = Psd(N + M, 20, 4);
        var nngp = Psd(N + M, 20, 5);
        var y = Targets(N, O, 6);
        var (th, ths) = (ntk[..(int)N, ..(int)N], ntk[(int)N.., ..(int)N]);
        var (k, ks, kss) = (nngp[..(int)N, ..(int)N], nngp[(int)N.., ..(int)N], nngp[(int)N.., (int)N..]);
        using var ensemble = Predict.GradientDescentMseEnsemble(th, k, y, 1);
        using var inf = ensemble.AtInfinity(ths, ks, kss);
        // Lee et al. (2019) eq. 16 at t = ∞: μ = Θ*Θ⁻¹Y, Σ = K** + Θ*Θ⁻¹KΘ⁻¹Θ*ᵀ − (Θ*Θ⁻¹K*ᵀ + h.c.).
        var a = ths.matmul(linalg.inv(th));
        var cross = a.matmul(ks.t());
        var cov = kss.add(a.matmul(k).matmul(a.t())).sub(cross).sub(cross.t());
        Assert.That(MaxAbs(inf.Mean, a.matmul(y)), Is.LessThan(1e-9));
        Assert.That(MaxAbs(inf.Covariance!, cov), Is.LessThan(1e-9));
        using var late = ensemble.At(1e7, ths, ks, kss);
        Assert.That(MaxAbs(late.Covariance!, cov), Is.LessThan(1e-8));
        Assert.That(linalg.eigvalsh(inf.Covariance!).min().item<double>(), Is.GreaterThan(-1e-10), "a covariance is PSD");
    }

    [Test]
    public void FullKernelsGiveBlockDiagonalCovarianceOverOutputs()
    {
        var ntk = Psd(N + M, 12, 7);
        var nngp = Psd(N + M, 12, 8);
        var y = Targets(N, O, 9);
        var eyeO = eye(O, dtype: ScalarType.Float64);
        Tensor Full(Tensor k) => einsum("ij,ab->ijab", k, eyeO);
        using var traced = Predict.GradientDescentMseEnsemble(ntk[..(int)N, ..(int)N], nngp[..(int)N, ..(int)N], y, 1);
        using var full = Predict.GradientDescentMseEnsemble(Full(ntk[..(int)N, ..(int)N]), Full(nngp[..(int)N, ..(int)N]), y, 1);
        using var a = traced.At(2, ntk[(int)N.., ..(int)N], nngp[(int)N.., ..(int)N], nngp[(int)N.., (int)N..]);
        using var b = full.At(2, Full(ntk[(int)N.., ..(int)N]), Full(nngp[(int)N.., ..(int)N]), Full(nngp[(int)N.., (int)N..]));
        Assert.That(b.Covariance!.shape, Is.EqualTo(new[] { M, M, O, O }));
        Assert.That(MaxAbs(b.Mean, a.Mean), Is.LessThan(1e-12));
        Assert.That(MaxAbs(b.Covariance!, Full(a.Covariance!)), Is.LessThan(1e-12));
    }
}
