using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static GpuNtk.Tests.Dynamics.Hierarchy.HierarchyTestData;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics.Hierarchy;

public sealed class HierarchyKernelTests
{
    [TestCase("fcn:depth=2,width=24,act=tanh,in=4,out=1")]
    [TestCase("fcn:depth=2,width=24,act=gelu,in=4,out=1")]
    public void ThirdOrderIsTheDerivativeOfTheNtkAlongATrainingGradient(string spec)
    {
        // K3(·, ·, x_c) = d/dε Θ(θ + ε ∇f(x_c)) at ε = 0, by central differences in float64.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(spec, seed: 3, ScalarType.Float64);
        var train = Sphere(6, 4, seed: 1);
        var probe = cat([train, Sphere(3, 4, seed: 2)]);
        var k3 = HierarchyKernels.K3(net, probe, train);
        Assert.That(k3.shape, Is.EqualTo(new long[] { 9, 6, 6 }));
        var layout = ParameterVector.Of(net);
        var theta = layout.Flatten();
        var grads = PerExampleDerivatives.For(net).Gradients(train);
        foreach (int c in new[] { 0, 3, 5 })
        {
            double h = 1e-4 / grads[c].norm().item<double>();
            var fd = NtkAt(net, layout, theta + h * grads[c], probe, train).sub(NtkAt(net, layout, theta - h * grads[c], probe, train)).div(2 * h);
            Assert.That(RelativeError(k3.select(2, c), fd), Is.LessThan(1e-6), $"direction {c}");
        }
    }

    [Test]
    public void FourthOrderIsTheDerivativeOfTheThirdAlongATrainingGradient()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=16,act=tanh,in=3,out=1", seed: 4, ScalarType.Float64);
        var train = Sphere(5, 3, seed: 5);
        var probe = Sphere(3, 3, seed: 6);   // not prefixed by the training points: the other assembly path
        var k4 = HierarchyKernels.K4(net, probe, train);
        Assert.That(k4.shape, Is.EqualTo(new long[] { 3, 5, 5, 5 }));
        var layout = ParameterVector.Of(net);
        var theta = layout.Flatten();
        var grads = PerExampleDerivatives.For(net).Gradients(train);
        foreach (int d in new[] { 1, 4 })
        {
            double h = 1e-4 / grads[d].norm().item<double>();
            layout.Assign(theta + h * grads[d]);
            var plus = HierarchyKernels.K3(net, probe, train);
            layout.Assign(theta - h * grads[d]);
            var minus = HierarchyKernels.K3(net, probe, train);
            layout.Assign(theta);
            Assert.That(RelativeError(k4.select(3, d), plus.sub(minus).div(2 * h)), Is.LessThan(1e-6), $"direction {d}");
        }
    }

    [Test]
    public void KernelsAreSymmetricInTheirFirstTwoArguments()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=16,act=gelu,in=3,out=1", seed: 7, ScalarType.Float64);
        var train = Sphere(5, 3, seed: 8);
        using var set = HierarchyKernels.Compute(net, cat([train, Sphere(2, 3, seed: 9)]), train, 4);
        var k2 = set.K2.narrow(0, 0, 5);
        var k3 = set.K3!.narrow(0, 0, 5);
        var k4 = set.K4!.narrow(0, 0, 5);
        Assert.That(k2.allclose(k2.t(), rtol: 0, atol: 1e-12));
        Assert.That(k3.allclose(k3.permute(1, 0, 2), rtol: 0, atol: 1e-12 * k3.abs().max().item<double>()));
        Assert.That(k4.allclose(k4.permute(1, 0, 2, 3), rtol: 0, atol: 1e-12 * k4.abs().max().item<double>()));
        // … and not in general in the others (K3 mixes H_a[g_b, g_c] + H_b[g_a, g_c]).
        Assert.That(k3.allclose(k3.permute(0, 2, 1), rtol: 0, atol: 1e-6), Is.False);
    }

    [Test]
    public void SecondOrderIsTheEmpiricalNtk()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=3,width=32,act=tanh,in=5,out=1", seed: 2, ScalarType.Float64);
        var train = Sphere(7, 5, seed: 1);
        var probe = Sphere(4, 5, seed: 2);
        var expected = EmpiricalNtk.Compute(net, probe, train, new NtkOptions(NtkOutput.Trace));
        Assert.That(HierarchyKernels.K2(net, probe, train).allclose(expected, rtol: 1e-12, atol: 1e-12));
    }

    [TestCase(HierarchyKernelMethod.ParameterRows)]
    [TestCase(HierarchyKernelMethod.Looped)]
    public void AllMethodsAgree(HierarchyKernelMethod method)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=12,act=tanh,in=3,out=1,param=standard", seed: 5, ScalarType.Float64);
        // Frozen parameters are constants: a first-layer bias, and the readout weight (its bias still trains).
        net.layers.children().OfType<DenseLayer>().First().bias.requires_grad_(false);
        net.layers.children().OfType<DenseLayer>().Last().weight.requires_grad_(false);
        var train = Sphere(4, 3, seed: 3);
        var probe = cat([Sphere(2, 3, seed: 4), train]);
        using var structured = HierarchyKernels.Compute(net, probe, train, 4, new HierarchyKernelOptions(HierarchyKernelMethod.Structured));
        using var other = HierarchyKernels.Compute(net, probe, train, 4, new HierarchyKernelOptions(method, MemoryBudgetBytes: 1 << 20));
        for (int r = 2; r <= 4; r++)
            Assert.That(RelativeError(other.Order(r), structured.Order(r)), Is.LessThan(1e-12), $"K{r}");
    }

    [Test]
    public void WidthOneLinearNetworkHasClosedFormKernels()
    {
        // f(x) = c·v·w·x with c = (σ_w/√1)² = 1 here: g = c·x·(v, w), Θ = c²x₁x₂(v² + w²),
        // K3 = 4c³x₁x₂x₃·v·w, K4 = 4c⁴x₁x₂x₃x₄(v² + w²) — nonzero, so freezing K3 (p = 3) is not exact even though f is
        // quadratic in θ.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=1,act=identity,in=1,out=1,bstd=0,wstd=1", seed: 1, ScalarType.Float64);
        var dense = net.layers.children().OfType<DenseLayer>().ToArray();
        foreach (var d in dense) d.bias.requires_grad_(false);
        double w = dense[0].weight.item<double>(), v = dense[1].weight.item<double>();
        var x = tensor(new[] { 0.5, -1.5, 2.0 }, ScalarType.Float64).unsqueeze(1);
        using var set = HierarchyKernels.Compute(net, x, x, 4);
        var xs = x.reshape(3);
        var outer2 = xs.outer(xs);
        var outer3 = einsum("a,b,c->abc", xs, xs, xs);
        var outer4 = einsum("a,b,c,d->abcd", xs, xs, xs, xs);
        Assert.That(set.K2.allclose(outer2 * (v * v + w * w), rtol: 1e-12, atol: 1e-14));
        Assert.That(set.K3!.allclose(outer3 * (4 * v * w), rtol: 1e-12, atol: 1e-14));
        Assert.That(set.K4!.allclose(outer4 * (4 * (v * v + w * w)), rtol: 1e-12, atol: 1e-14));
    }

    [Test]
    public void QuadraticNetworkHasNoThirdDerivative()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=8,act=identity,in=3,out=1", seed: 2, ScalarType.Float64);
        var d = PerExampleDerivatives.For(net);
        var x = Sphere(3, 3, seed: 1);
        var g = d.Gradients(x);
        Assert.That(d.ThirdDerivatives(x, g, g.flip(0)).abs().max().item<double>(), Is.EqualTo(0));
        Assert.That(d.HessianVectorProducts(x, g).abs().max().item<double>(), Is.GreaterThan(1e-2), "while the Hessian does not vanish");
    }

    [Test]
    public void Float32AgreesWithFloat64()
    {
        using var scope = NewDisposeScope();
        const string spec = "fcn:depth=2,width=32,act=tanh,in=4,out=1";
        using var net64 = NetworkFactory.Create(spec, seed: 8, ScalarType.Float64);
        using var net32 = NetworkFactory.Create(spec, seed: 8, ScalarType.Float32);
        var train = Sphere(6, 4, seed: 1);
        var probe = Sphere(3, 4, seed: 2);
        using var k64 = HierarchyKernels.Compute(net64, probe, train, 4);
        using var k32 = HierarchyKernels.Compute(net32, probe.to(ScalarType.Float32), train.to(ScalarType.Float32), 4);
        Assert.That(k32.K3!.dtype, Is.EqualTo(ScalarType.Float32));
        for (int r = 2; r <= 4; r++)
            Assert.That(RelativeError(k32.Order(r).to(ScalarType.Float64), k64.Order(r)), Is.LessThan(1e-4), $"K{r}");
    }

    [Test]
    public void AnyScalarModuleWorksThroughTheLoopedBackend()
    {
        // A CNN has no batched rule: Auto falls back to the looped backend; K3 still matches finite differences.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("cnn:depth=1,channels=3,act=tanh,in=1,size=4,out=1", seed: 1, ScalarType.Float64);
        var train = Sphere(3, 16, seed: 1);
        var k3 = HierarchyKernels.K3(net, train, train);
        var layout = ParameterVector.Of(net);
        var theta = layout.Flatten();
        var g = PerExampleDerivatives.For(net).Gradients(train);
        double h = 1e-4 / g[1].norm().item<double>();
        var fd = NtkAt(net, layout, theta + h * g[1], train, train).sub(NtkAt(net, layout, theta - h * g[1], train, train)).div(2 * h);
        Assert.That(RelativeError(k3.select(2, 1), fd), Is.LessThan(1e-6));
    }

    [Test]
    public void InvalidInputsAreRejectedWithTheReason()
    {
        using var scope = NewDisposeScope();
        using var vector = NetworkFactory.Create("fcn:depth=1,width=8,act=tanh,in=3,out=2", seed: 1, ScalarType.Float64);
        var x = Sphere(3, 3, seed: 1);
        Assert.That(() => PerExampleDerivatives.For(vector).Gradients(x), Throws.ArgumentException.With.Message.Contains("give the output of each row"));
        Assert.That(() => HierarchyKernels.Compute(vector, x, x, 3, new HierarchyKernelOptions(Output: NtkOutput.DiagonalTrace)),
                    Throws.ArgumentException.With.Message.Contains("Trace or Full"));
        using var scalar = NetworkFactory.Create("fcn:depth=1,width=8,act=tanh,in=3,out=1", seed: 1, ScalarType.Float64);
        Assert.That(() => HierarchyKernels.K3(scalar, x.to(ScalarType.Float32), x), Throws.ArgumentException.With.Message.Contains("dtype"));
        Assert.That(() => HierarchyKernels.Compute(scalar, x, x, 5), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => HierarchyKernels.K4(scalar, x, x, new HierarchyKernelOptions(HierarchyKernelMethod.ParameterRows, MemoryBudgetBytes: 1 << 20)),
                    Throws.Nothing);
    }
}
