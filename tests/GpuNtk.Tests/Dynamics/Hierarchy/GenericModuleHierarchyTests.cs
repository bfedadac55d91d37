using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static GpuNtk.Tests.Dynamics.Hierarchy.HierarchyTestData;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics.Hierarchy;

/// <summary>The hierarchy of modules that are not fully connected GpuNtk networks (the generic, looped path), and ReLU.</summary>
public sealed class GenericModuleHierarchyTests
{
    [Test]
    public void ThirdOrderOfAModuleWrittenHereIsTheDerivativeOfItsNtk()
    {
        // Θ of the module from its own per-example gradients (G·Gᵀ), differentiated along g_c by central differences.
        using var scope = NewDisposeScope();
        using var module = new GatedModule(4, 6, seed: 2);
        var train = Sphere(4, 4, seed: 1);
        var probe = cat([train, Sphere(2, 4, seed: 3)]);
        var k3 = HierarchyKernels.K3(module, probe, train);
        Assert.That(k3.shape, Is.EqualTo(new long[] { 6, 4, 4 }));
        var rows = PerExampleDerivatives.Looped(module);
        var layout = ParameterVector.Of(module);
        var theta = layout.Flatten();
        Tensor Ntk() => rows.Gradients(probe).matmul(rows.Gradients(train).t());
        var g = rows.Gradients(train);
        foreach (int c in new[] { 0, 2 })
        {
            double h = 1e-4 / g[c].norm().item<double>();
            layout.Assign(theta + h * g[c]);
            var plus = Ntk();
            layout.Assign(theta - h * g[c]);
            var minus = Ntk();
            layout.Assign(theta);
            Assert.That(RelativeError(k3.select(2, c), plus.sub(minus).div(2 * h)), Is.LessThan(1e-6), $"direction {c}");
        }
        Assert.That(k3.narrow(0, 0, 4).allclose(k3.narrow(0, 0, 4).permute(1, 0, 2), rtol: 0, atol: 1e-12 * k3.abs().max().item<double>()));
    }

    [Test]
    public void OneHiddenLayerReluNetworkHasNoThirdDerivative()
    {
        // φ'' = 0 almost everywhere: inside an activation region f = v·relu(W x + b) + c is bilinear in (W, b) and
        // (v, c), so ∇³f = 0 and only mixed (cross-layer) second derivatives remain.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=8,act=relu,in=3,out=1", seed: 2, ScalarType.Float64);
        var d = PerExampleDerivatives.For(net);
        var x = Sphere(3, 3, seed: 1);
        var g = d.Gradients(x);
        Assert.That(d.ThirdDerivatives(x, g, g.flip(0)).abs().max().item<double>(), Is.EqualTo(0));
        Assert.That(d.HessianVectorProducts(x, g).abs().max().item<double>(), Is.GreaterThan(1e-2));
    }

    /// <summary>f(x) = vᵀ(softplus(W x) ⊙ tanh(U x)) + s·‖x‖²: a smooth module with no batched rule.</summary>
    private sealed class GatedModule : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter w, u, v, s;

        public GatedModule(long inputs, long hidden, long seed) : base(nameof(GatedModule))
        {
            using var g = new Generator((ulong)seed);
            w = new Parameter(randn(hidden, inputs, ScalarType.Float64, generator: g).div(Math.Sqrt(inputs)));
            u = new Parameter(randn(hidden, inputs, ScalarType.Float64, generator: g).div(Math.Sqrt(inputs)));
            v = new Parameter(randn(hidden, ScalarType.Float64, generator: g).div(Math.Sqrt(hidden)));
            s = new Parameter(tensor(0.3, ScalarType.Float64));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) =>
            nn.functional.softplus(x.matmul(w.t())).mul(x.matmul(u.t()).tanh()).matmul(v).add(x.square().sum(1).mul(s)).unsqueeze(1);
    }
}
