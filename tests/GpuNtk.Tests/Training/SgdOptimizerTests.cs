using GpuNtk.Training;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

public sealed class SgdOptimizerTests
{
    // L(θ) = ½‖Aθ − b‖², ∇L = Aᵀ(Aθ − b): gradients by hand, no autograd in the expectation.
    private static readonly Tensor A = tensor(new double[,] { { 1, 2, 0 }, { 0, 1, -1 }, { 3, 0, 1 }, { 1, 1, 1 } });
    private static readonly Tensor B = tensor(new double[] { 1, -2, 0.5, 3 });

    private static Tensor Gradient(Tensor theta) => A.t().matmul(A.matmul(theta) - B);

    private static void Backward(Parameter p)
    {
        var loss = (A.matmul(p) - B).square().sum() * 0.5;
        loss.backward();
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TwoMomentumStepsEqualTheHandComputedUpdate(bool nesterov)
    {
        const double eta = 0.05, beta = 0.9;
        var theta0 = tensor(new double[] { 0.3, -0.7, 1.1 });
        using var p = new Parameter(theta0.clone());
        using var opt = new SgdOptimizer([p], eta, beta, nesterov);

        Backward(p);
        opt.Step();
        var g0 = Gradient(theta0);
        // First step: the buffer is the gradient itself.
        var theta1 = nesterov ? theta0 - eta * (g0 + beta * g0) : theta0 - eta * g0;
        Assert.That((p.detach() - theta1).abs().max().item<double>(), Is.LessThan(1e-14));

        opt.ZeroGrad();
        Backward(p);
        opt.Step();
        var g1 = Gradient(theta1);
        var v1 = beta * g0 + g1;
        var theta2 = nesterov ? theta1 - eta * (g1 + beta * v1) : theta1 - eta * v1;
        Assert.That((p.detach() - theta2).abs().max().item<double>(), Is.LessThan(1e-14));
        Assert.That((opt.Buffers[0]! - v1).abs().max().item<double>(), Is.LessThan(1e-14));
    }

    [Test]
    public void PlainSgdStep()
    {
        var theta0 = tensor(new double[] { 1, 2, 3 });
        using var p = new Parameter(theta0.clone());
        using var opt = new SgdOptimizer([p], 0.1);
        Backward(p);
        opt.Step();
        Assert.That((p.detach() - (theta0 - 0.1 * Gradient(theta0))).abs().max().item<double>(), Is.LessThan(1e-15));
        Assert.That(opt.Buffers[0], Is.Null);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void MatchesTorchSharpSgdOverSeveralSteps(bool nesterov)
    {
        using var mine = new Parameter(tensor(new double[] { 0.3, -0.7, 1.1 }));
        using var theirs = new Parameter(tensor(new double[] { 0.3, -0.7, 1.1 }));
        using var opt = new SgdOptimizer([mine], 0.02, 0.8, nesterov);
        using var reference = optim.SGD([theirs], 0.02, momentum: 0.8, nesterov: nesterov);
        for (int i = 0; i < 6; i++)
        {
            opt.ZeroGrad();
            Backward(mine);
            opt.Step();
            reference.zero_grad();
            Backward(theirs);
            reference.step();
        }
        Assert.That((mine.detach() - theirs.detach()).abs().max().item<double>(), Is.LessThan(1e-14));
    }

    [Test]
    public void BuffersRoundTrip()
    {
        using var p = new Parameter(tensor(new double[] { 1, 1, 1 }));
        using var opt = new SgdOptimizer([p], 0.01, 0.5);
        Backward(p);
        opt.Step();
        using var q = new Parameter(p.detach().clone());
        using var copy = new SgdOptimizer([q], 0.01, 0.5);
        copy.LoadBuffers([opt.Buffers[0]!.clone()]);
        opt.ZeroGrad();
        Backward(p);
        opt.Step();
        Backward(q);
        copy.Step();
        Assert.That(p.detach().eq(q.detach()).all().item<bool>(), Is.True);
    }

    [Test]
    public void RejectsBadSettings()
    {
        using var p = new Parameter(zeros(2));
        Assert.Throws<ArgumentException>(() => new SgdOptimizer([p], 0));
        Assert.Throws<ArgumentException>(() => new SgdOptimizer([p], 0.1, 1.0));
        Assert.Throws<ArgumentException>(() => new SgdOptimizer([p], 0.1, 0, nesterov: true));
    }
}
