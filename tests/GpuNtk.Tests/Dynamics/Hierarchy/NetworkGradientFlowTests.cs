using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Dynamics.Ode;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static GpuNtk.Tests.Dynamics.Hierarchy.HierarchyTestData;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics.Hierarchy;

public sealed class NetworkGradientFlowTests
{
    [Test]
    public void OutputVelocityFollowsTheKernelConvention()
    {
        // df/dt = −(η/(N·O))·Θ·(f − y) with Θ the full [N·O, N·O] NTK (src/GpuNtk/Kernels/README.md), here O = 2.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=16,act=tanh,in=3,out=2", seed: 1, ScalarType.Float64);
        var x = Sphere(4, 3, seed: 2);
        var y = Sphere(4, 2, seed: 3);
        const double eta = 0.5, h = 1e-4;
        var f0 = net.forward(x).detach();
        var theta = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full)).permute(0, 2, 1, 3).reshape(8, 8);
        var expected = theta.matmul(f0.sub(y).reshape(8)).mul(-eta / 8).reshape(4, 2);
        using var flow = new NetworkGradientFlow(net, x, y, eta, new OdeOptions(1e-12, 1e-14));
        double loss0 = flow.Loss();
        flow.AdvanceTo(h);
        var fh = net.forward(x).detach();
        Assert.That(RelativeError(fh.sub(f0).div(h), expected), Is.LessThan(1e-3));
        flow.AdvanceTo(1);
        Assert.That(flow.Loss(), Is.LessThan(loss0));
        Assert.That(flow.Time, Is.EqualTo(1));
    }
}
