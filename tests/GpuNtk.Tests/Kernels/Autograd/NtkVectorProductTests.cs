using GpuNtk.Kernels.Autograd;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Autograd;

public sealed class NtkVectorProductTests
{
    [Test]
    public void PowerIterationFindsTheTopEigenvalueOfTheNtk()
    {
        using var net = NetworkFactory.Create("fcn:depth=1,width=32,act=relu,in=6,out=2", 1, ScalarType.Float64);
        using var g = new Generator(5);
        var x = randn([10, 6], ScalarType.Float64, generator: g);
        var theta = EmpiricalNtk.Compute(net, x).permute(0, 2, 1, 3).reshape(20, 20);
        double exact = linalg.eigvalsh(theta)[-1].item<double>();
        Assert.That(NtkEigenvalue.Largest(net, x, 60, tolerance: 0, seed: 17), Is.EqualTo(exact).Within(1e-6).Percent);
    }

    [Test]
    public void ProductsMatchTheExplicitKernelBetweenTwoSets()
    {
        using var net = NetworkFactory.Create("fcn:depth=2,width=12,act=tanh,in=4,out=3", 2, ScalarType.Float64);
        using var g = new Generator(7);
        var x1 = randn([5, 4], ScalarType.Float64, generator: g);
        var x2 = randn([4, 4], ScalarType.Float64, generator: g);
        var v = randn([4, 3], ScalarType.Float64, generator: g);
        // [N1, N2, O, O] → [N1·O, N2·O], rows i·O + a.
        var theta = ReferenceNtk.Compute(net, x1, x2, NtkOutput.Full).permute(0, 2, 1, 3).reshape(15, 12);
        var expected = theta.matmul(v.reshape(12)).reshape(5, 3);
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var ps = net.parameters().Cast<Tensor>().ToArray();
        var product = new NtkVectorProduct(net, ps, x1);
        Assert.That(product.Multiply(x2, v).sub(expected).abs().max().item<double>(), Is.LessThan(1e-12));
        var theta11 = ReferenceNtk.Compute(net, x1, null, NtkOutput.Full).permute(0, 2, 1, 3).reshape(15, 15);
        var w = randn([5, 3], ScalarType.Float64, generator: g);
        Assert.That(product.Multiply(w).sub(theta11.matmul(w.reshape(15)).reshape(5, 3)).abs().max().item<double>(), Is.LessThan(1e-12),
                    "the same product object serves Θ(X1, X1)·w from its retained graph");
    }

    [Test]
    public void UnreachedParametersGetZeroGradients()
    {
        using var used = nn.Linear(3, 2, dtype: ScalarType.Float64);
        using var unused = nn.Linear(3, 2, dtype: ScalarType.Float64);
        using var scope = NewDisposeScope();
        var x = ones(4, 3, ScalarType.Float64);
        Tensor[] leaves = [used.weight!, unused.weight!];
        var f = used.call(x).sum();
        var nulls = ParameterGradients.OrNull([f], leaves, retainGraph: true);
        Assert.That(nulls[0], Is.Not.Null);
        Assert.That(nulls[1], Is.Null);
        var flat = ParameterGradients.Flat([f], leaves);
        Assert.That(flat.shape, Is.EqualTo(new long[] { 12 }));
        Assert.That(flat.narrow(0, 6, 6).abs().sum().item<double>(), Is.EqualTo(0));
        Assert.That(flat.narrow(0, 0, 6).sum().item<double>(), Is.EqualTo(24.0), "∂Σf/∂W = Σ_examples x = 4 per entry");
    }
}
