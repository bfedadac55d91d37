using GpuNtk.Kernels.Autograd;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Autograd;

/// <summary>Forward-mode J·u against the double-backward J·u (<see cref="JacobianOperator"/>), the general path.</summary>
public sealed class ForwardModeJvpTests
{
    private static Tensor[] RandomLike(IEnumerable<Tensor> like, ulong seed, ScalarType dtype)
    {
        using var g = new Generator(seed);
        return like.Select(p => randn(p.shape, dtype, generator: g)).ToArray();
    }

    private static Tensor DoubleBackwardJvp(nn.Module<Tensor, Tensor> module, Tensor[] parameters, Tensor x, IReadOnlyList<Tensor?> u)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var f = module.forward(x);
        return new JacobianOperator(f, parameters).Apply(u).MoveToOuterDisposeScope();
    }

    private static double RelativeError(Tensor a, Tensor b) => a.sub(b).norm().item<double>() / b.norm().item<double>();

    [TestCase("fcn:depth=2,width=16,act=relu,in=7,out=3")]
    [TestCase("fcn:depth=2,width=16,act=erf,in=7,out=3")]
    [TestCase("fcn:depth=2,width=16,act=tanh,param=standard,in=7,out=3")]
    [TestCase("fcn:depth=2,width=16,act=gelu,in=7,out=3")]
    [TestCase("fcn:depth=1,width=16,act=identity,in=7,out=3")]
    [TestCase("fcn:depth=2,width=16,norm=layer,in=12,out=3")]
    [TestCase("cnn:depth=1,channels=4,size=8,out=3")]
    [TestCase("cnn:depth=1,channels=3,in=1,act=gelu,size=12,out=2")]
    [TestCase("wrn:depth=10,size=8,out=3")]
    [TestCase("wrn:depth=10,act=tanh,param=standard,size=8,out=3")]
    public void MatchesTheDoubleBackwardProductInFloat64(string spec)
    {
        using var net = NetworkFactory.Create(spec, 3, ScalarType.Float64);
        using var g = new Generator(11);
        var x = randn([5, net.Spec.InputSize], ScalarType.Float64, generator: g);
        var parameters = net.parameters().Cast<Tensor>().ToArray();
        var u = RandomLike(parameters, 5, ScalarType.Float64);
        var (output, jvp) = ForwardModeJvp.TryCompute(net, parameters, x, u) ?? throw new AssertionException($"{spec} should be supported");
        using (no_grad()) Assert.That(output.sub(net.forward(x)).abs().max().item<double>(), Is.EqualTo(0), "the output is the network's own forward");
        var expected = DoubleBackwardJvp(net, parameters, x, u);
        Assert.That(expected.norm().item<double>(), Is.GreaterThan(1e-3), "the tangent must move the outputs");
        Assert.That(RelativeError(jvp, expected), Is.LessThan(1e-12));
        Assert.That(jvp.requires_grad, Is.False);
    }

    [Test]
    public void MissingAndNullTangentsHoldThoseParametersConstant()
    {
        using var net = NetworkFactory.Create("wrn:depth=10,size=8,out=3", 1, ScalarType.Float64);
        using var g = new Generator(2);
        var x = randn([3, net.Spec.InputSize], ScalarType.Float64, generator: g);
        // Every other parameter moves; of the rest, half are absent from the list and half have a null tangent.
        var all = net.parameters().Cast<Tensor>().ToArray();
        var listed = all.Where((_, i) => i % 4 != 3).ToArray();
        var u = RandomLike(listed, 9, ScalarType.Float64).Select((t, i) => i % 3 == 1 ? null : t).ToArray();
        var (_, jvp) = ForwardModeJvp.TryCompute(net, listed, x, u)!.Value;
        var full = all.Select(p => Array.IndexOf(listed, p) is var k && k >= 0 ? u[k] : null).ToArray();
        Assert.That(RelativeError(jvp, DoubleBackwardJvp(net, all, x, full)), Is.LessThan(1e-12));
    }

    [Test]
    public void TorchSharpSequentialOfKnownLayersIsSupportedAndOtherModulesAreNot()
    {
        using var seq = nn.Sequential(("flat", nn.Flatten()), ("l1", nn.Linear(12, 8, dtype: ScalarType.Float64)), ("r", nn.ReLU()),
                                      ("l2", nn.Linear(8, 5, hasBias: false, dtype: ScalarType.Float64)), ("t", nn.Tanh()),
                                      ("id", nn.Identity()), ("l3", nn.Linear(5, 2, dtype: ScalarType.Float64)));
        using var g = new Generator(4);
        var x = randn([6, 3, 4], ScalarType.Float64, generator: g);
        var parameters = seq.parameters().Cast<Tensor>().ToArray();
        var u = RandomLike(parameters, 8, ScalarType.Float64);
        var (_, jvp) = ForwardModeJvp.TryCompute(seq, parameters, x, u)!.Value;
        Assert.That(RelativeError(jvp, DoubleBackwardJvp(seq, parameters, x, u)), Is.LessThan(1e-12));

        using var other = nn.Sequential(("l", nn.Linear(12, 2, dtype: ScalarType.Float64)), ("s", nn.Sigmoid()));
        Assert.That(ForwardModeJvp.Supports(other), Is.False);
        var p2 = other.parameters().Cast<Tensor>().ToArray();
        Assert.That(ForwardModeJvp.TryCompute(other, p2, x.reshape(6, 12), RandomLike(p2, 1, ScalarType.Float64)), Is.Null);
    }

    [TestCase("cnn:depth=1,channels=5,act=tanh,size=8,out=3")]
    [TestCase("wrn:depth=10,act=gelu,size=8,out=3")]
    [TestCase("fcn:depth=2,width=16,act=gelu,in=7,out=3")]
    public void Float32AgreesWithFloat64(string spec)
    {
        using var net64 = NetworkFactory.Create(spec, 6, ScalarType.Float64);
        using var net32 = NetworkFactory.Create(spec, 6, ScalarType.Float32);
        using var g = new Generator(3);
        var x = randn([4, net64.Spec.InputSize], ScalarType.Float64, generator: g);
        var p64 = net64.parameters().Cast<Tensor>().ToArray();
        var p32 = net32.parameters().Cast<Tensor>().ToArray();
        var u = RandomLike(p64, 2, ScalarType.Float64);
        var (_, j64) = ForwardModeJvp.TryCompute(net64, p64, x, u)!.Value;
        var (_, j32) = ForwardModeJvp.TryCompute(net32, p32, x.to(ScalarType.Float32), u.Select(t => t.to(ScalarType.Float32)).ToArray())!.Value;
        Assert.That(j32.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(RelativeError(j32.to(ScalarType.Float64), j64), Is.LessThan(1e-5));
    }
}
