using GpuNtk.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Which <see cref="ILayerNtkRule"/> serves a module that owns trainable parameters: a table keyed by module type,
/// in the spirit of Neural Tangents' structured-derivative rules keyed by primitive. <see cref="For"/> tries the
/// factories registered for the module's own type, then for each base type in turn (newest registration first
/// within a type); a factory may decline an instance by returning null (TorchSharp's <c>Conv2d</c> when grouped or
/// dilated); a module no factory takes gets the generic per-layer autograd rule, which is exact for any module whose
/// examples do not interact.
/// <para>
/// A parameter-free layer (activation, pooling, LayerNorm without affine parameters, reshapes) needs no rule: it sits
/// on the backprop path that produces every parameterized layer's signals. A new parameterized layer type is one rule
/// class and one <see cref="Register{TModule}"/> call — in <see cref="CreateDefault"/> for GpuNtk's own layers, on
/// the caller's registry (<see cref="NtkOptions.Rules"/>) for a user's:
/// <code>
/// var rules = NtkRuleRegistry.CreateDefault().Register&lt;MyLayer&gt;(m => new MyLayerNtkRule(m));
/// var theta = EmpiricalNtk.Compute(model, x, options: new NtkOptions { Rules = rules });
/// </code>
/// </para>
/// </summary>
public sealed class NtkRuleRegistry
{
    private readonly Dictionary<Type, List<Func<nn.Module, ILayerNtkRule?>>> _byType = [];

    /// <summary>A registry with the built-in rules: dense (<c>DenseLayer</c>, <c>Linear</c>), convolution
    /// (<c>Conv2dLayer</c>, ordinary <c>Conv2d</c>), and the affine parameters of <c>LayerNorm</c>/<c>GroupNorm</c>.</summary>
    public static NtkRuleRegistry CreateDefault() => new NtkRuleRegistry()
        .Register<DenseLayer>(DenseNtkRule.TryCreate)
        .Register<Linear>(DenseNtkRule.TryCreate)
        .Register<Conv2dLayer>(Conv2dNtkRule.TryCreate)
        .Register<Conv2d>(Conv2dNtkRule.TryCreate)
        .Register<LayerNorm>(NormAffineNtkRule.TryCreate)
        .Register<GroupNorm>(NormAffineNtkRule.TryCreate);

    /// <summary>
    /// Makes <paramref name="factory"/> the first choice for modules of type <typeparamref name="TModule"/> (and of
    /// types derived from it that have no factory of their own). Return null from the factory to leave an instance to
    /// the next factory (or the generic rule). Returns this registry, for chaining.
    /// </summary>
    public NtkRuleRegistry Register<TModule>(Func<TModule, ILayerNtkRule?> factory) where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (!_byType.TryGetValue(typeof(TModule), out var list)) _byType[typeof(TModule)] = list = [];
        list.Insert(0, m => factory((TModule)m));
        return this;
    }

    /// <summary>The rule for <paramref name="module"/>: the first registered factory that accepts it, else the generic rule.</summary>
    public ILayerNtkRule For(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        for (var type = module.GetType(); type is not null; type = type.BaseType)
        {
            if (!_byType.TryGetValue(type, out var factories)) continue;
            foreach (var factory in factories)
                if (factory(module) is { } rule) return rule;
        }
        return new GenericModuleNtkRule(module);
    }
}
