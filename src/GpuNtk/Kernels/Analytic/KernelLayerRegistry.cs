using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Which <see cref="IKernelLayer"/> a network layer becomes in the infinite-width recursion: a table keyed by the
/// layer's module type, in the spirit of Neural Tangents' <c>stax</c>, where a layer's forward and its kernel rule
/// come together. <see cref="AnalyticKernel.FromNetwork"/> looks up every layer after the input layer here: factories
/// for the module's own type first, then for each base type in turn (newest registration first within a type). A new
/// layer type is one kernel-layer class and one <see cref="Register{TModule}"/> call — in <see cref="CreateDefault"/>
/// for GpuNtk's layers, on the caller's registry for a user's:
/// <code>
/// var layers = KernelLayerRegistry.CreateDefault().Register&lt;MyLayer&gt;((m, b) => new MyKernelLayer(m.Scale));
/// var kernel = AnalyticKernel.FromNetwork(network, layers);
/// </code>
/// </summary>
public sealed class KernelLayerRegistry
{
    private readonly Dictionary<Type, List<Func<nn.Module, KernelLayerBuilder, IKernelLayer?>>> _byType = [];

    /// <summary>A registry with GpuNtk's network layers (dense, convolution, activations, pooling, flatten,
    /// LayerNorm, residual blocks).</summary>
    public static KernelLayerRegistry CreateDefault() => new KernelLayerRegistry()
        .Register<DenseLayer>((d, _) => new DenseKernelLayer(d.WeightMultiplier * Math.Sqrt(d.FanIn), d.BiasMultiplier))
        .Register<Conv2dLayer>((c, _) => new ConvKernelLayer(c.KernelSize, c.Stride, c.WeightMultiplier * Math.Sqrt(c.FanIn), c.BiasMultiplier))
        .Register<ActivationLayer>((a, _) => new ActivationKernelLayer(DualActivations.For(a.Kind)))
        .Register<AveragePoolLayer>((p, _) => new AveragePoolKernelLayer(p.Window))
        .Register<GlobalAveragePoolLayer>((_, _) => new GlobalAveragePoolKernelLayer())
        .Register<FlattenLayer>((_, _) => new FlattenKernelLayer())
        .Register<LayerNormLayer>(LayerNormKernelLayer.For)
        .Register<ResidualBlock>(ResidualKernelLayer.For);

    /// <summary>
    /// Makes <paramref name="factory"/> the first choice for layers of type <typeparamref name="TModule"/> (and of
    /// types derived from it that have no factory of their own). The factory gets the layer and a
    /// <see cref="KernelLayerBuilder"/> (the layer before it; kernel layers for child modules); it may return null to
    /// leave a layer to the next factory. Returns this registry, for chaining.
    /// </summary>
    public KernelLayerRegistry Register<TModule>(Func<TModule, KernelLayerBuilder, IKernelLayer?> factory) where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (!_byType.TryGetValue(typeof(TModule), out var list)) _byType[typeof(TModule)] = list = [];
        list.Insert(0, (m, b) => factory((TModule)m, b));
        return this;
    }

    /// <summary>The kernel layer of <paramref name="module"/>, or null when no factory takes it.</summary>
    public IKernelLayer? TryCreate(nn.Module module, KernelLayerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(builder);
        for (var type = module.GetType(); type is not null; type = type.BaseType)
        {
            if (!_byType.TryGetValue(type, out var factories)) continue;
            foreach (var factory in factories)
                if (factory(module, builder) is { } layer) return layer;
        }
        return null;
    }
}
