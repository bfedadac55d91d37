using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// What a <see cref="KernelLayerRegistry"/> factory may ask while it builds one kernel layer: the layer in front of it
/// (for rules that hold only after certain layers) and the kernel layers of a sequence of child modules (for composite
/// layers such as a residual block).
/// </summary>
public sealed class KernelLayerBuilder
{
    private readonly KernelLayerRegistry _registry;
    private readonly string _owner;

    internal KernelLayerBuilder(KernelLayerRegistry registry, string owner, nn.Module? previous)
    {
        _registry = registry;
        _owner = owner;
        Previous = previous;
    }

    /// <summary>The module applied just before this one in its sequence (null at the start of a sequence).</summary>
    public nn.Module? Previous { get; }

    /// <summary>The kernel layers of <paramref name="modules"/>, applied in order (the input of the sequence is the
    /// input of the layer being built).</summary>
    public IReadOnlyList<IKernelLayer> Layers(IEnumerable<nn.Module> modules) => Sequence(_registry, _owner, modules);

    /// <summary>Kernel layers for <paramref name="modules"/>; <paramref name="owner"/> names the network in errors.</summary>
    internal static IReadOnlyList<IKernelLayer> Sequence(KernelLayerRegistry registry, string owner, IEnumerable<nn.Module> modules)
    {
        var layers = new List<IKernelLayer>();
        nn.Module? previous = null;
        foreach (var module in modules)
        {
            layers.Add(registry.TryCreate(module, new KernelLayerBuilder(registry, owner, previous))
                       ?? throw new NotSupportedException($"{owner}: no analytic kernel layer for {module.GetType().Name}; register one " +
                                                          "with KernelLayerRegistry.Register (src/GpuNtk/Kernels/README.md, \"Adding a layer\")"));
            previous = module;
        }
        return layers;
    }
}
