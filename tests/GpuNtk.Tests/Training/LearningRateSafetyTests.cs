using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using GpuNtk.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

public sealed class LearningRateSafetyTests
{
    [Test]
    public void PowerIterationFindsTheTopEigenvalueOfTheFullNtk()
    {
        using var net = NetworkFactory.Create("fcn:depth=1,width=16,act=tanh,in=5,out=3", seed: 2, ScalarType.Float64);
        using var x = randn([6, 5], ScalarType.Float64, generator: new Generator(3));
        using var full = ReferenceNtk.Compute(net, x, null, NtkOutput.Full);
        // [N, N, O, O] → [N·O, N·O], rows i·O + a.
        using var matrix = full.permute(0, 2, 1, 3).reshape(18, 18);
        double exact = linalg.eigvalsh(matrix)[-1].item<double>();
        double estimate = LearningRateSafety.LargestNtkEigenvalue(net, x, maxIterations: 500, tolerance: 1e-12);
        Assert.That(estimate, Is.EqualTo(exact).Within(1e-6 * exact));
    }

    [TestCase(OptimizerKind.Sgd)]
    [TestCase(OptimizerKind.Momentum)]
    [TestCase(OptimizerKind.Nesterov)]
    public void EtaMaxSeparatesConvergenceFromDivergence(OptimizerKind kind)
    {
        // Overparameterized linear model (20 inputs, 12 examples), full batch: below η_max the loss falls, above it the top mode grows geometrically.
        const int n = 12, o = 2;
        using var g = new Generator(5);
        var x = randn([n, 20], ScalarType.Float64, generator: g);
        var y = randn([n, o], ScalarType.Float64, generator: g);
        using var data = new LabeledData(x, zeros(n, ScalarType.Int64), y, o);
        double lambda;
        using (var probe = NetworkFactory.Create($"fcn:depth=0,in=20,out={o}", seed: 1, ScalarType.Float64))
            lambda = LearningRateSafety.LargestNtkEigenvalue(probe, x, 500, 1e-12);
        double etaMax = LearningRateSafety.MaxLearningRate(lambda, n, o, LossKind.Mse, kind, 0.7);
        Assert.That(FinalOverInitialLoss(0.9 * etaMax), Is.LessThan(1e-2), "0.9·η_max converges");
        Assert.That(FinalOverInitialLoss(1.1 * etaMax), Is.GreaterThan(1e3), "1.1·η_max diverges");

        double FinalOverInitialLoss(double eta)
        {
            using var net = NetworkFactory.Create($"fcn:depth=0,in=20,out={o}", seed: 1, ScalarType.Float64);
            var config = new TrainConfig { Optimizer = kind, LearningRate = eta, Momentum = 0.7, BatchSize = 0 };
            using var model = new TrainedModel("model", net, config, eta);
            using var sampler = new MinibatchSampler(n, n, 0, CPU);
            var stepper = new DiscreteStepper([model], data, config, sampler, null);
            double first = stepper.Step(eta).item<double>();
            double last = first;
            for (int i = 0; i < 400; i++) last = stepper.Step(eta).item<double>();
            return last / first;
        }
    }

    [Test]
    public void MomentumFactors()
    {
        double gd = LearningRateSafety.MaxLearningRate(100, 10, 5, LossKind.Mse, OptimizerKind.Sgd, 0.9);
        Assert.That(gd, Is.EqualTo(2.0 * 10 * 5 / 100));
        Assert.That(LearningRateSafety.MaxLearningRate(100, 10, 5, LossKind.Mse, OptimizerKind.Momentum, 0.9), Is.EqualTo(gd * 1.9).Within(1e-12));
        Assert.That(LearningRateSafety.MaxLearningRate(100, 10, 5, LossKind.Mse, OptimizerKind.Nesterov, 0.9), Is.EqualTo(gd * 1.9 / 2.8).Within(1e-12));
        Assert.That(LearningRateSafety.MaxLearningRate(100, 10, 5, LossKind.Mse, OptimizerKind.Flow, 0.9), Is.EqualTo(double.PositiveInfinity));
    }
}
