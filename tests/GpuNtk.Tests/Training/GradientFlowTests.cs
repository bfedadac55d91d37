using GpuNtk.Data;
using GpuNtk.Networks;
using GpuNtk.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>
/// On a linear model f(x) = m_w·W·x + m_b·b the NTK is constant, Θ = K ⊗ I_O with K(x, x') = m_w²·x·x' + m_b², and
/// gradient flow of the MSE 1/(2·N·O)‖f − y‖² is solved exactly: f_t = y + exp(−η·t·K/(N·O))·(f_0 − y).
/// </summary>
public sealed class GradientFlowTests
{
    private const int N = 10, D = 6, O = 2;
    private const double Eta = 3.0;

    [TestCase(null, 1e-9)]
    [TestCase(0.05, 1e-7)]
    public void LinearModelMatchesTheExactExponentialSolution(double? fixedStep, double tolerance)
    {
        using var net = NetworkFactory.Create($"fcn:depth=0,in={D},out={O},bstd=0.5", seed: 3, ScalarType.Float64);
        using var g = new Generator(7);
        var x = randn([N, D], ScalarType.Float64, generator: g);
        var y = randn([N, O], ScalarType.Float64, generator: g);
        using var data = new LabeledData(x, zeros(N, ScalarType.Int64), y, O);
        var layer = (DenseLayer)net.ParameterizedLayers[0];
        var k = x.matmul(x.t()) * (layer.WeightMultiplier * layer.WeightMultiplier) + layer.BiasMultiplier * layer.BiasMultiplier;
        Tensor f0;
        using (no_grad()) f0 = net.forward(x);

        var config = new TrainConfig { Optimizer = OptimizerKind.Flow, LearningRate = Eta, FlowStep = fixedStep, FlowRelativeTolerance = 1e-10, FlowAbsoluteTolerance = 1e-12 };
        using var model = new TrainedModel("model", net, config, Eta);
        using var flow = new FlowStepper([model], data, config, Eta, 0, null);
        foreach (double t in new[] { 0.5, 2.0, 6.0 })
        {
            using var loss = flow.AdvanceTo(t, CancellationToken.None);
            Tensor ft;
            using (no_grad()) ft = net.forward(x);
            var exact = y + linalg.matrix_exp(k * (-Eta * t / (N * O))).matmul(f0 - y);
            double err = (ft - exact).abs().max().item<double>();
            Assert.That(err, Is.LessThan(tolerance), $"t={t}");
            double exactLoss = (exact - y).square().sum().item<double>() / (2 * N * O);
            Assert.That(loss.item<double>(), Is.EqualTo(exactLoss).Within(tolerance));
        }
        // The dynamics actually moved: at t = 6 the residual shrank.
        Assert.That(flow.Time, Is.EqualTo(6.0));
    }
}
