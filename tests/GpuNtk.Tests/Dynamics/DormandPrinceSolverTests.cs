using GpuNtk.Dynamics.Ode;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

public sealed class DormandPrinceSolverTests
{
    [Test]
    public void LinearSystemMatchesMatrixExponential()
    {
        // dy/dt = −A y with A symmetric positive definite: y(t) = exp(−A t) y0.
        using var m = randn(6, 6, ScalarType.Float64, generator: new Generator(1));
        using var a = m.matmul(m.t()) / 6 + eye(6, dtype: ScalarType.Float64) * 0.1;
        using var y0 = randn(6, 1, ScalarType.Float64, generator: new Generator(2));
        using var solver = new DormandPrinceSolver((_, y) => [-a.matmul(y[0])], [y0], 0, new OdeOptions(1e-10, 1e-12));
        foreach (double t in new[] { 0.5, 1.0, 3.0 })
        {
            solver.AdvanceTo(t);
            Assert.That(solver.Time, Is.EqualTo(t));
            using var exact = linalg.matrix_exp(-a * t).matmul(y0);
            double err = (solver.State[0] - exact).abs().max().item<double>();
            Assert.That(err, Is.LessThan(1e-8), $"t={t}");
        }
        Assert.That(solver.AcceptedSteps, Is.GreaterThan(3));
    }

    [Test]
    public void FixedStepIsFifthOrder()
    {
        // y' = y: error ∝ h⁵ globally, so halving h divides the error by ≈ 32.
        double Error(double h)
        {
            using var y0 = ones(1, ScalarType.Float64);
            using var s = new DormandPrinceSolver((_, y) => [y[0].clone()], [y0], 0, new OdeOptions(FixedStep: h));
            s.AdvanceTo(1);
            return Math.Abs(s.State[0].item<double>() - Math.E);
        }
        double ratio = Error(0.1) / Error(0.05);
        Assert.That(ratio, Is.InRange(25, 40));
    }

    [Test]
    public void SeveralTensorsAndTimeDependentRightHandSide()
    {
        // y1' = cos t, y2' = −2 y2: y1 = sin t, y2 = e^{−2t}.
        using var y1 = zeros(3, ScalarType.Float64);
        using var y2 = ones(2, ScalarType.Float64);
        using var s = new DormandPrinceSolver((t, y) => [full_like(y[0], Math.Cos(t)), y[1] * -2], [y1, y2], 0, new OdeOptions(1e-9, 1e-12));
        s.AdvanceTo(2);
        Assert.That(s.State[0][0].item<double>(), Is.EqualTo(Math.Sin(2)).Within(1e-8));
        Assert.That(s.State[1][1].item<double>(), Is.EqualTo(Math.Exp(-4)).Within(1e-9));
    }

    [Test]
    public void DivergenceIsReportedNotLooped()
    {
        using var y0 = ones(1, ScalarType.Float64);
        using var s = new DormandPrinceSolver((_, y) => [y[0].pow(3)], [y0], 0, new OdeOptions(MaxSteps: 10_000));
        // y' = y³ blows up at t = 1/2.
        Assert.Throws(Is.InstanceOf<Exception>(), () => s.AdvanceTo(1));
    }

    [Test]
    public void WorksInFloat32()
    {
        using var y0 = ones(4, ScalarType.Float32);
        using var s = new DormandPrinceSolver((_, y) => [-y[0]], [y0], 0, new OdeOptions(1e-5, 1e-7));
        s.AdvanceTo(1);
        Assert.That(s.State[0].dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(s.State[0][0].item<float>(), Is.EqualTo((float)Math.Exp(-1)).Within(1e-5));
    }
}
