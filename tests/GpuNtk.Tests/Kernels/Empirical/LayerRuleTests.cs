using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>
/// Modules beyond the built-in networks: TorchSharp layers (Linear, Conv2d, LayerNorm, GroupNorm), weight sharing,
/// frozen parameters, non-flat dense inputs, and a module whose hooks cannot fire. All against the reference.
/// </summary>
public sealed class LayerRuleTests
{
    private static readonly NtkImplementation[] All = [.. Fast, NtkImplementation.Auto];

    private static void AssertAllMatchReference(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor x2, IEnumerable<NtkImplementation> impls)
    {
        foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace })
        {
            var sym = ReferenceNtk.Compute(model, x1, null, output);
            var cross = ReferenceNtk.Compute(model, x1, x2, output);
            foreach (var impl in impls)
            {
                var options = new NtkOptions(output, impl, BlockSize: 2);
                Assert.That(RelativeError(EmpiricalNtk.Compute(model, x1, null, options), sym), Is.LessThan(1e-10), $"{impl} {output} symmetric");
                Assert.That(RelativeError(EmpiricalNtk.Compute(model, x1, x2, options), cross), Is.LessThan(1e-10), $"{impl} {output} X1 ≠ X2");
            }
        }
        var diag = ReferenceNtk.Compute(model, x1, null, NtkOutput.DiagonalFull);
        foreach (var impl in impls)
            Assert.That(RelativeError(EmpiricalNtk.Compute(model, x1, null, new NtkOptions(NtkOutput.DiagonalFull, impl)), diag),
                Is.LessThan(1e-10), $"{impl} diagonal");
    }

    private static void Randomize(nn.Module module, ulong seed)
    {
        using var g = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var p in module.parameters()) p.copy_(randn(p.shape, p.dtype, p.device, generator: g).mul_(0.7));
    }

    [Test]
    public void LinearAndLayerNormAffine()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("l1", nn.Linear(6, 8)), ("ln", nn.LayerNorm(8)), ("act", nn.ReLU()), ("l2", nn.Linear(8, 3)));
        model.to(ScalarType.Float64);
        Randomize(model, 1);
        AssertAllMatchReference(model, randn(5, 6, ScalarType.Float64), randn(3, 6, ScalarType.Float64), All);
        Assert.That(EmpiricalNtk.Resolve(model, randn(1, 6, ScalarType.Float64)), Is.EqualTo(NtkImplementation.Structured));
    }

    [Test]
    public void TorchConv2dAndGroupNormAffine()
    {
        using var scope = NewDisposeScope();
        var model = nn.Sequential(("conv", nn.Conv2d(2, 4, 3, padding: 1)), ("gn", nn.GroupNorm(2, 4)), ("act", nn.Tanh()),
            ("flat", nn.Flatten()), ("out", nn.Linear(64, 3)));
        model.to(ScalarType.Float64);
        Randomize(model, 2);
        AssertAllMatchReference(model, randn(5, 2, 4, 4, ScalarType.Float64), randn(3, 2, 4, 4, ScalarType.Float64), All);
    }

    [Test]
    public void DenseOnNonFlatInputsFallsBackToAutograd()
    {
        using var scope = NewDisposeScope();
        // Linear on [N, T, in]: one weight shared across T positions, so the factored dense rule does not apply.
        var model = nn.Sequential(("tokens", nn.Linear(4, 5)), ("act", nn.GELU()), ("flat", nn.Flatten()), ("out", nn.Linear(15, 2)));
        model.to(ScalarType.Float64);
        Randomize(model, 3);
        AssertAllMatchReference(model, randn(4, 3, 4, ScalarType.Float64), randn(3, 3, 4, ScalarType.Float64), Fast);
    }

    [Test]
    public void WeightSharingAddsEveryPairOfCalls()
    {
        using var scope = NewDisposeScope();
        var model = new SharedDense();
        model.to(ScalarType.Float64);
        AssertAllMatchReference(model, randn(5, 6, ScalarType.Float64), randn(3, 6, ScalarType.Float64), All);
    }

    [Test]
    public void FrozenParametersAreLeftOut()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Cnn, seed: 4, ScalarType.Float64);
        var layers = net.ParameterizedLayers.Cast<nn.Module>().ToList();
        ((Conv2dLayer)layers[0]).weight.requires_grad = false;
        ((Conv2dLayer)layers[1]).bias.requires_grad = false;
        ((DenseLayer)layers[^1]).weight.requires_grad = false;
        AssertAllMatchReference(net, Inputs(net, 4, seed: 41), Inputs(net, 3, seed: 42), All);
    }

    [Test]
    public void HiddenCallsNeedVectorProducts()
    {
        using var scope = NewDisposeScope();
        var model = new ForwardBypass();
        model.to(ScalarType.Float64);
        var x1 = randn(4, 6, ScalarType.Float64);
        Assert.That(EmpiricalNtk.Resolve(model, x1), Is.EqualTo(NtkImplementation.VectorProducts));
        var error = Assert.Throws<ArgumentException>(() => EmpiricalNtk.Compute(model, x1, null, new NtkOptions(Implementation: NtkImplementation.Structured)));
        Assert.That(error!.Message, Does.Contain("call()"));
        AssertAllMatchReference(model, x1, randn(3, 6, ScalarType.Float64), [NtkImplementation.VectorProducts, NtkImplementation.Auto]);
    }

    /// <summary>One dense layer applied twice.</summary>
    private sealed class SharedDense : nn.Module<Tensor, Tensor>
    {
        private readonly DenseLayer input = new(6, 8, Parameterization.Ntk, 1.5, 0.2);
        private readonly DenseLayer shared = new(8, 8, Parameterization.Ntk, 1.5, 0.2);
        private readonly DenseLayer output = new(8, 3, Parameterization.Ntk, 1.5, 0.2);

        public SharedDense() : base("shared_dense")
        {
            RegisterComponents();
            using var g = new Generator(5);
            foreach (var l in new[] { input, shared, output }) l.Initialize(g);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = tanh(input.call(x));
            h = tanh(shared.call(h));
            h = tanh(shared.call(h));
            return output.call(h).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Calls its child's forward() directly, so the child's forward hooks never fire.</summary>
    private sealed class ForwardBypass : nn.Module<Tensor, Tensor>
    {
        private readonly DenseLayer hidden = new(6, 5, Parameterization.Ntk, 1.5, 0.2);
        private readonly DenseLayer output = new(5, 2, Parameterization.Ntk, 1.5, 0.2);

        public ForwardBypass() : base("bypass")
        {
            RegisterComponents();
            using var g = new Generator(6);
            hidden.Initialize(g);
            output.Initialize(g);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return output.call(tanh(hidden.forward(x))).MoveToOuterDisposeScope();
        }
    }
}
