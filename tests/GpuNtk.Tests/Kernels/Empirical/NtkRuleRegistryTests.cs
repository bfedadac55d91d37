using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>
/// The rule registry is public and extendable: a rule a user registers for their module type (or for a built-in type)
/// is the one the structured and Jacobian-contraction methods use, and the kernel stays the reference's.
/// </summary>
public sealed class NtkRuleRegistryTests
{
    private const double Tolerance = 1e-10;

    [Test]
    public void TheRegistriesAndWhatARuleSeesArePublic()
    {
        Type[] types =
        [
            typeof(ILayerNtkRule), typeof(NtkRuleRegistry), typeof(ModuleCall), typeof(NtkAccumulator),
            typeof(IKernelLayer), typeof(KernelLayerRegistry), typeof(KernelLayerBuilder), typeof(KernelState), typeof(KernelContext),
        ];
        Assert.That(types.Where(t => !t.IsPublic).Select(t => t.Name), Is.Empty);
    }

    [TestCase(NtkImplementation.Structured)]
    [TestCase(NtkImplementation.JacobianContraction)]
    public void AUserRegisteredRuleServesItsModuleType(NtkImplementation implementation)
    {
        using var scope = NewDisposeScope();
        using var model = UserModel();
        var x1 = Inputs(model, 5, 6, seed: 21);
        var x2 = Inputs(model, 3, 6, seed: 22);
        var rule = new ElementwiseScaleRule();
        var rules = NtkRuleRegistry.CreateDefault().Register<ElementwiseScale>(_ => rule);
        Assert.That(NtkRuleRegistry.CreateDefault().For(model.scale), Is.Not.InstanceOf<ElementwiseScaleRule>(), "unregistered: the generic rule");
        foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace })
        {
            var options = new NtkOptions(output, implementation, BlockSize: 2) { Rules = rules };
            Assert.That(RelativeError(EmpiricalNtk.Compute(model, x1, null, options), ReferenceNtk.Compute(model, x1, null, output)),
                Is.LessThan(Tolerance), $"{output} symmetric");
            Assert.That(RelativeError(EmpiricalNtk.Compute(model, x1, x2, options), ReferenceNtk.Compute(model, x1, x2, output)),
                Is.LessThan(Tolerance), $"{output} X1 ≠ X2");
        }
        Assert.That(rule.Jacobians, Is.GreaterThan(0), "the registered rule was used");
    }

    [Test]
    public void ARegistrationOverridesTheBuiltInRuleForItsType()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 4, ScalarType.Float64);
        var x = Inputs(net, 4, seed: 23);
        var builtIn = NtkRuleRegistry.CreateDefault();
        var counting = new List<CountingRule>();
        var rules = NtkRuleRegistry.CreateDefault().Register<DenseLayer>(d =>
        {
            var rule = new CountingRule(builtIn.For(d));
            counting.Add(rule);
            return rule;
        });
        var theta = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.Structured) { Rules = rules });
        Assert.That(RelativeError(theta, ReferenceNtk.Compute(net, x, null, NtkOutput.Full)), Is.LessThan(Tolerance));
        Assert.That(counting, Has.Count.EqualTo(3), "one rule per dense layer");
        Assert.That(counting.All(r => r.Accumulated > 0), "every dense layer went through the registered rule");
    }

    /// <summary>A network with <see cref="LayerNormLayer"/>s: parameter-free, so no rule — it is on the backprop path.</summary>
    [TestCase(NtkOutput.Full)]
    [TestCase(NtkOutput.Trace)]
    public void LayerNormNetworksMatchTheReference(NtkOutput output)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=16,norm=layer,in=12,out=3", seed: 6, ScalarType.Float64);
        Assert.That(net.Layers.OfType<LayerNormLayer>().Count(), Is.EqualTo(2));
        var x1 = Inputs(net, 5, seed: 24);
        var x2 = Inputs(net, 3, seed: 25);
        var symmetricRef = ReferenceNtk.Compute(net, x1, null, output);
        var crossRef = ReferenceNtk.Compute(net, x1, x2, output);
        foreach (var impl in Fast)
        {
            var options = new NtkOptions(output, impl, BlockSize: 2);
            Assert.That(RelativeError(EmpiricalNtk.Compute(net, x1, null, options), symmetricRef), Is.LessThan(Tolerance), $"{impl} symmetric");
            Assert.That(RelativeError(EmpiricalNtk.Compute(net, x1, x2, options), crossRef), Is.LessThan(Tolerance), $"{impl} X1 ≠ X2");
        }
    }

    private static UserNet UserModel()
    {
        var model = new UserNet();
        model.to(ScalarType.Float64);
        return model;
    }

    /// <summary>A user's network: Linear → y = x∘s (their own parameterized layer) → tanh → Linear.</summary>
    private sealed class UserNet : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006 // module names as they appear in parameter names
        public readonly Linear first = nn.Linear(6, 4);
        public readonly ElementwiseScale scale = new(4);
        public readonly Linear last = nn.Linear(4, 3);
#pragma warning restore IDE1006

        public UserNet() : base("user_net") => RegisterComponents();

        public override Tensor forward(Tensor x) => last.call(tanh(scale.call(first.call(x))));
    }

    private sealed class ElementwiseScale : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        public readonly Parameter weight;
#pragma warning restore IDE1006

        public ElementwiseScale(long features) : base("elementwise_scale")
        {
            using var g = new Generator(7);
            weight = new Parameter(randn([features], generator: g).add_(1));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => x * weight;
    }

    /// <summary>∂f_a(x_i)/∂s = G_ia∘x_i: the Jacobian in closed form from the captured input and signal.</summary>
    private sealed class ElementwiseScaleRule : ILayerNtkRule
    {
        public int Jacobians;

        public long Slices(ModuleCall call) => 1;

        public long SliceWidth(ModuleCall call) => call.Input.shape[1];

        public Tensor Jacobian(ModuleCall call, long start, long count)
        {
            Interlocked.Increment(ref Jacobians);
            return call.Signal.mul(call.Input.unsqueeze(1)); // [N, O, features]
        }

        public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc) => false;
    }

    /// <summary>Delegates to another rule and counts structured contributions.</summary>
    private sealed class CountingRule(ILayerNtkRule inner) : ILayerNtkRule
    {
        public int Accumulated;

        public long Slices(ModuleCall call) => inner.Slices(call);

        public long SliceWidth(ModuleCall call) => inner.SliceWidth(call);

        public Tensor Jacobian(ModuleCall call, long start, long count) => inner.Jacobian(call, start, count);

        public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc)
        {
            bool done = inner.TryAccumulate(c1, c2, acc);
            if (done) Interlocked.Increment(ref Accumulated);
            return done;
        }
    }
}
