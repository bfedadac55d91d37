using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Dynamics.Ode;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static GpuNtk.Tests.Dynamics.Hierarchy.HierarchyTestData;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics.Hierarchy;

public sealed class TruncatedHierarchyTests
{
    private static readonly OdeOptions Tight = new(1e-12, 1e-14);

    [Test]
    public void NtkVelocityAtTimeZeroMatchesTheNetworksNtkAlongAGradientFlowStep()
    {
        // dΘ/dt(0) of the hierarchy (−η/n·K3·r) against [Θ(θ − hη∇L) − Θ(θ + hη∇L)] / 2h of the network itself.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=24,act=tanh,in=4,out=1", seed: 2, ScalarType.Float64);
        var train = Sphere(6, 4, seed: 1);
        var probe = cat([train, Sphere(3, 4, seed: 2)]);
        var y = Sphere(6, 1, seed: 3).reshape(6).mul(0.5);
        const double eta = 0.7;
        using var set = HierarchyKernels.Compute(net, probe, train, 3);
        var f0 = net.forward(probe).reshape(-1).detach();
        var residual = f0.narrow(0, 0, 6).sub(y);
        var velocity = set.K3!.matmul(residual).mul(-eta / 6);

        var layout = ParameterVector.Of(net);
        var theta = layout.Flatten();
        var loss = net.forward(train).reshape(-1).sub(y).square().sum().div(2 * 6);
        var grad = cat(autograd.grad([loss], layout.Entries.Select(e => (Tensor)e.Parameter).ToArray()).Select(g => g.reshape(-1)).ToArray());
        double h = 1e-3;
        var step = grad.mul(eta * h);
        var fd = NtkAt(net, layout, theta - step, probe, train).sub(NtkAt(net, layout, theta + step, probe, train)).div(2 * h);
        Assert.That(RelativeError(velocity, fd), Is.LessThan(1e-6));
    }

    [Test]
    public void TruncationAtLevelPIsAccurateToOrderTToThePOverTheRealFlow()
    {
        // Freezing K⁽ᵖ⁾ first changes the p-th time derivative of f and the (p−1)-th of Θ: halving t divides the f
        // error by 2^p and the Θ error by 2^(p−1). This checks K3 and K4 inside the dynamics, and the time convention.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=16,act=tanh,in=3,out=1", seed: 1, ScalarType.Float64);
        var train = Sphere(6, 3, seed: 5);
        var probe = cat([train, Sphere(3, 3, seed: 6)]);
        var y = Sphere(6, 1, seed: 7).reshape(6);
        var f0 = net.forward(probe).reshape(-1).detach();
        using var set = HierarchyKernels.Compute(net, probe, train, 4);
        var hierarchies = new[] { 2, 3, 4 }.Select(p => new TruncatedHierarchy(p, f0, set, y, ode: Tight)).ToArray();
        using var flow = new NetworkGradientFlow(net, train, y.unsqueeze(1), ode: Tight);
        var fErr = new double[3, 2];
        var kErr = new double[3, 2];
        double[] times = [0.1, 0.2];
        for (int k = 0; k < 2; k++)
        {
            flow.AdvanceTo(times[k]);
            var f = net.forward(probe).reshape(-1).detach();
            var ntk = EmpiricalNtk.Compute(net, probe, train, new NtkOptions(NtkOutput.Trace));
            for (int i = 0; i < 3; i++)
            {
                hierarchies[i].AdvanceTo(times[k]);
                fErr[i, k] = hierarchies[i].Outputs.sub(f).norm().item<double>();
                kErr[i, k] = hierarchies[i].Ntk.sub(ntk).norm().item<double>();
            }
        }
        for (int i = 0; i < 3; i++)
        {
            int p = i + 2;
            Assert.That(fErr[i, 1] / fErr[i, 0], Is.InRange(0.8 * Math.Pow(2, p), 1.25 * Math.Pow(2, p)), $"f error ratio, p = {p}");
            if (p > 2) Assert.That(kErr[i, 1] / kErr[i, 0], Is.InRange(0.8 * Math.Pow(2, p - 1), 1.25 * Math.Pow(2, p - 1)), $"Θ error ratio, p = {p}");
            if (p > 2) Assert.That(fErr[i, 1], Is.LessThan(0.1 * fErr[i - 1, 1]), $"p = {p} is better than p = {p - 1}");
        }
        foreach (var h in hierarchies) h.Dispose();
    }

    [Test]
    public void QuadraticNetworkIsNotClosedAtLevelThree()
    {
        // f = v·(W x) (identity activation, both layers trained) is quadratic in θ, so ∇³f = 0; but K⁽⁴⁾ keeps its
        // ⟨H g, H g⟩ terms, so K3 still moves and p = 3 is accurate to O(t³) only — while p = 4 gains an order.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=8,act=identity,in=3,out=1,bstd=0", seed: 1, ScalarType.Float64);
        var train = Sphere(6, 3, seed: 5);
        var y = Sphere(6, 1, seed: 7).reshape(6);
        var f0 = net.forward(train).reshape(-1).detach();
        using var set = HierarchyKernels.Compute(net, train, train, 4);
        using var p3 = new TruncatedHierarchy(3, f0, set, y, ode: Tight);
        using var p4 = new TruncatedHierarchy(4, f0, set, y, ode: Tight);
        using var flow = new NetworkGradientFlow(net, train, y.unsqueeze(1), ode: Tight);
        var e3 = new double[2];
        var e4 = new double[2];
        double[] times = [0.1, 0.2];
        for (int k = 0; k < 2; k++)
        {
            flow.AdvanceTo(times[k]);
            p3.AdvanceTo(times[k]);
            p4.AdvanceTo(times[k]);
            var f = net.forward(train).reshape(-1).detach();
            e3[k] = p3.Outputs.sub(f).norm().item<double>();
            e4[k] = p4.Outputs.sub(f).norm().item<double>();
        }
        Assert.That(e3[0], Is.GreaterThan(1e-7), "p = 3 is not exact");
        Assert.That(e3[1] / e3[0], Is.InRange(6.4, 10));
        Assert.That(e4[1] / e4[0], Is.InRange(12.8, 20));
    }

    [Test]
    public void OrderTwoIsTheLinearizedDynamicsInClosedForm()
    {
        // p = 2: f_T(t) = y + exp(−ηΘt/n)(f0 − y) on the training set; test points follow
        // f_test(t) = f0_test − Θ_test,T Θ⁻¹ (I − exp(−ηΘt/n))(f0 − y).
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=32,act=tanh,in=3,out=1", seed: 3, ScalarType.Float64);
        var train = Sphere(5, 3, seed: 1);
        var probe = cat([train, Sphere(2, 3, seed: 2)]);
        var y = Sphere(5, 1, seed: 3).reshape(5);
        var f0 = net.forward(probe).reshape(-1).detach();
        using var set = HierarchyKernels.Compute(net, probe, train, 2);
        const double eta = 2.0, t = 1.5;
        using var p2 = new TruncatedHierarchy(2, f0, set, y, eta, Tight);
        p2.AdvanceTo(t);
        var theta = set.K2.narrow(0, 0, 5);
        var decay = linalg.matrix_exp(theta.mul(-eta * t / 5));
        var r0 = f0.narrow(0, 0, 5).sub(y);
        var trainExpected = y.add(decay.matmul(r0));
        var testExpected = f0.narrow(0, 5, 2).sub(set.K2.narrow(0, 5, 2).matmul(linalg.solve(theta, r0.sub(decay.matmul(r0)))));
        Assert.That(p2.Outputs.allclose(cat([trainExpected, testExpected]), rtol: 1e-9, atol: 1e-10));
        Assert.That(p2.Ntk.allclose(set.K2), "the NTK is frozen at p = 2");
    }

    [Test]
    public void RejectsMissingKernelsAndMismatchedShapes()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=8,act=tanh,in=3,out=1", seed: 3, ScalarType.Float64);
        var x = Sphere(4, 3, seed: 1);
        var y = zeros(4, ScalarType.Float64);
        using var set = HierarchyKernels.Compute(net, x, x, 3);
        var f0 = net.forward(x).reshape(-1).detach();
        Assert.That(() => new TruncatedHierarchy(4, f0, set, y), Throws.ArgumentException.With.Message.Contains("K4"));
        Assert.That(() => new TruncatedHierarchy(3, f0, set, zeros(3, ScalarType.Float64)), Throws.ArgumentException);
        Assert.That(() => new TruncatedHierarchy(3, f0, set, y, learningRate: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
