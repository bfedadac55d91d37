using GpuNtk.Dynamics.Linearization;
using GpuNtk.Dynamics.Predictors;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Dynamics.DynamicsTestHelpers;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

/// <summary>
/// Lee et al. (2019) on a small problem: a wide network trained by gradient descent stays close to its linearization,
/// whose outputs the closed-form predictor gives exactly; and the learning-rate threshold η_max = 2·N·O/λ_max(Θ).
/// </summary>
public sealed class WideNetworkTests
{
    private const string Wide = "fcn:depth=2,width=2048,act=erf,in=8,out=2";
    private const long N = 8, M = 4;
    private Tensor _x = null!, _xs = null!, _y = null!, _theta = null!, _thetaTest = null!;

    [OneTimeSetUp]
    public void ComputeTheNtkOnce()
    {
        _x = Inputs(N, 8, 1);
        _xs = Inputs(M, 8, 2);
        _y = Targets(N, 2, 3);
        using var net = NetworkFactory.Create(Wide, 0, ScalarType.Float64);
        // One Θ on train ∪ test, sliced into train×train [N, N, 2, 2] and test×train [M, N, 2, 2].
        var joint = EmpiricalNtk.Compute(net, cat([_x, _xs]));
        _theta = joint[..(int)N, ..(int)N].contiguous();
        _thetaTest = joint[(int)N.., ..(int)N].contiguous();
    }

    [TestCase(0.0)]
    [TestCase(0.9)]
    public void WideNetworkTrainedBySgdAgreesWithItsLinearizationAndTheClosedForm(double beta)
    {
        var options = new DynamicsOptions(TrainingProcess.GradientDescent, beta);
        using var probe = Predict.GradientDescentMse(_theta, _y, 1, options);
        double eta = 0.2 * probe.MaxLearningRate; // a small learning rate: a fifth of the (momentum-adjusted) η_max
        using var predictor = Predict.GradientDescentMse(_theta, _y, eta, options);

        using var net = NetworkFactory.Create(Wide, 0, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var (fNet, fsNet) = Train(net, _x, _y, _xs, eta, 10, beta);
        var (fLin, fsLin) = Train(lin, _x, _y, _xs, eta, 10, beta);
        using var closed = predictor.At(10, fNet[0], fsNet![0], _thetaTest);

        // The linearized model is the closed form up to rounding.
        Assert.That(RelativeError(fLin[10], closed.Train), Is.LessThan(1e-10));
        Assert.That(RelativeError(fsLin![10], closed.Test!), Is.LessThan(1e-10));
        // The network follows both to rtol 1e-2 — also in what it learned (f_10 − f_0), not just in where it started.
        Assert.That(RelativeError(fNet[10], closed.Train), Is.LessThan(1e-2));
        Assert.That(RelativeError(fsNet[10], closed.Test!), Is.LessThan(1e-2));
        Assert.That(RelativeError(fNet[10], fLin[10]), Is.LessThan(1e-2));
        Assert.That(RelativeError(fsNet[10], fsLin[10]), Is.LessThan(1e-2));
        Assert.That(RelativeError(fNet[10] - fNet[0], closed.Train - fNet[0]), Is.LessThan(1e-2));
        Assert.That(RelativeError(fsNet[10] - fsNet[0], closed.Test! - fsNet[0]), Is.LessThan(1e-2));
        // And the outputs really moved: the loss fell by more than half.
        Assert.That(MseLoss(fNet[10], _y).item<double>(), Is.LessThan(0.5 * MseLoss(fNet[0], _y).item<double>()));
    }

    [Test]
    public void LearningRateThresholdIsTwoNOOverTheTopEigenvalue()
    {
        using var probe = Predict.GradientDescentMse(_theta, _y, 1, new DynamicsOptions(TrainingProcess.GradientDescent));
        double etaMax = probe.MaxLearningRate;
        double[] steps = Enumerable.Range(0, 31).Select(i => (double)i).ToArray();
        using var net0 = NetworkFactory.Create(Wide, 0, ScalarType.Float64);
        Tensor f0;
        using (no_grad()) f0 = net0.forward(_x);
        foreach (var (fraction, low, high) in new[] { (0.5, 0.0, 0.1), (1.0, 0.0, 1.0), (3.0, 10.0, double.PositiveInfinity) })
        {
            double eta = fraction * etaMax;
            // The exact discrete dynamics of the linearized network, 30 full-batch steps.
            using var predictor = Predict.GradientDescentMse(_theta, _y, eta, new DynamicsOptions(TrainingProcess.GradientDescent));
            using var p = predictor.At(steps, f0);
            var loss = predictor.Loss(p.Train);
            double closedRatio = loss[30].item<double>() / loss[0].item<double>();
            // The wide erf network itself (a ReLU network would instead "catapult" and converge at 3·η_max).
            using var net = NetworkFactory.Create(Wide, 0, ScalarType.Float64);
            var (f, _) = Train(net, _x, _y, null, eta, 30);
            double netRatio = MseLoss(f[30], _y).item<double>() / MseLoss(f[0], _y).item<double>();
            TestContext.Out.WriteLine($"η = {fraction}·η_max: loss(30)/loss(0) closed form {closedRatio:G3}, network {netRatio:G3}");
            Assert.That(closedRatio, Is.InRange(low, high), $"closed form at {fraction}·η_max");
            Assert.That(netRatio, Is.InRange(low, high), $"network at {fraction}·η_max");
        }
    }

    [TestCase(0.0)]
    [TestCase(0.6)]
    public void ALinearModelIsItsOwnLinearizationAndTheClosedFormExactly(double beta)
    {
        // Depth 0: f = (σw/√d)·W·x + σb·b is linear in θ, so network, linearization and closed form coincide.
        const string spec = "fcn:depth=0,act=identity,in=8,out=2";
        using var net = NetworkFactory.Create(spec, 4, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var theta = EmpiricalNtk.Compute(net, _x);
        var thetaTest = EmpiricalNtk.Compute(net, _xs, _x);
        var options = new DynamicsOptions(TrainingProcess.GradientDescent, beta);
        using var probe = Predict.GradientDescentMse(theta, _y, 1, options);
        double eta = 0.5 * probe.MaxLearningRate;
        using var predictor = Predict.GradientDescentMse(theta, _y, eta, options);
        var (fNet, fsNet) = Train(net, _x, _y, _xs, eta, 10, beta);
        var (fLin, fsLin) = Train(lin, _x, _y, _xs, eta, 10, beta);
        using var closed = predictor.At(Enumerable.Range(0, 11).Select(i => (double)i).ToArray(), fNet[0], fsNet![0], thetaTest);
        Assert.That(MaxAbs(fNet, closed.Train), Is.LessThan(1e-12));
        Assert.That(MaxAbs(fsNet, closed.Test!), Is.LessThan(1e-12));
        Assert.That(MaxAbs(fLin, fNet), Is.LessThan(1e-12));
        Assert.That(MaxAbs(fsLin!, fsNet), Is.LessThan(1e-12));
        Assert.That(MaxAbs(fNet[10], fNet[0]), Is.GreaterThan(0.1), "training must move the outputs");
    }
}
