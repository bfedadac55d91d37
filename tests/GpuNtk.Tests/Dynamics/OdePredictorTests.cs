using GpuNtk.Dynamics.Linearization;
using GpuNtk.Dynamics.Ode;
using GpuNtk.Dynamics.Predictors;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Dynamics.DynamicsTestHelpers;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

public sealed class OdePredictorTests
{
    [Test]
    public void CrossEntropyFlowInFunctionSpaceMatchesTheLinearizedModelsParameterFlow()
    {
        // Two independent routes to the gradient flow of a linearized network on cross-entropy:
        // (a) function space with the empirical NTK, (b) its parameters δ integrated by the same ODE solver.
        using var net = NetworkFactory.Create("fcn:depth=1,width=16,act=tanh,in=4,out=3", 1, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var x = Inputs(6, 4, 2);
        var xs = Inputs(3, 4, 3);
        var y = nn.functional.one_hot(tensor(new long[] { 0, 1, 2, 0, 1, 2 }), 3).to(ScalarType.Float64);
        var theta = EmpiricalNtk.Compute(net, x);
        var thetaTest = EmpiricalNtk.Compute(net, xs, x);
        const double eta = 2.0;
        double[] times = [1, 6];
        var ode = new OdeOptions(1e-9, 1e-11);
        using var predictor = Predict.GradientDescent(OutputLoss.CrossEntropy, theta, y, eta, ode: ode);
        using var p = predictor.At(times, lin.InitialOutput(x), lin.InitialOutput(xs), thetaTest);

        var deltas = lin.Deltas.Cast<Tensor>().ToList();
        Tensor[] Rhs(double _, IReadOnlyList<Tensor> d)
        {
            using (no_grad()) for (int k = 0; k < d.Count; k++) lin.Deltas[k].copy_(d[k]);
            var loss = nn.functional.cross_entropy(lin.forward(x), y);
            return autograd.grad([loss], deltas).Select(g => g.mul(-eta)).ToArray();
        }
        using var solver = new DormandPrinceSolver(Rhs, deltas.Select(d => zeros_like(d)).ToList(), 0, ode);
        foreach (var (t, i) in times.Select((t, i) => (t, i)))
        {
            solver.AdvanceTo(t);
            using (no_grad()) for (int k = 0; k < deltas.Count; k++) lin.Deltas[k].copy_(solver.State[k]);
            Assert.That(MaxAbs(p.Train[i], lin.forward(x)), Is.LessThan(1e-6), $"train, t={t}");
            Assert.That(MaxAbs(p.Test![i], lin.forward(xs)), Is.LessThan(1e-6), $"test, t={t}");
        }
        double loss0 = OutputLoss.CrossEntropy.Value(lin.InitialOutput(x), y).item<double>();
        Assert.That(OutputLoss.CrossEntropy.Value(p.Train[1], y).item<double>(), Is.LessThan(0.7 * loss0), "training must make progress");
    }

    [Test]
    public void AutogradLossMatchesTheBuiltInGradients()
    {
        var f = Targets(5, 3, 1);
        var y = nn.functional.one_hot(tensor(new long[] { 0, 2, 1, 1, 0 }), 3).to(ScalarType.Float64);
        var ce = OutputLoss.FromFunction("ce", (a, b) => nn.functional.cross_entropy(a, b));
        Assert.That(MaxAbs(ce.Gradient(f, y), OutputLoss.CrossEntropy.Gradient(f, y)), Is.LessThan(1e-14));
        Assert.That(MaxAbs(ce.Value(f, y), OutputLoss.CrossEntropy.Value(f, y)), Is.LessThan(1e-14));
        var mse = OutputLoss.FromFunction("mse", MseLoss);
        Assert.That(MaxAbs(mse.Gradient(f, y), OutputLoss.MeanSquaredError.Gradient(f, y)), Is.LessThan(1e-14));
    }
}
