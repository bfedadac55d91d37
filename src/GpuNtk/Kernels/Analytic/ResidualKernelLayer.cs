using GpuNtk.Networks;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// y = branch(x) + shortcut(x), the shortcut being the identity or a layer (a 1×1 convolution): the branch ends in a
/// layer with fresh zero-mean weights, so the two terms are uncorrelated and K' = K_branch + K_shortcut, Θ' likewise.
/// </summary>
public sealed class ResidualKernelLayer(IReadOnlyList<IKernelLayer> branch, IReadOnlyList<IKernelLayer>? shortcut) : IKernelLayer
{
    public IReadOnlyList<IKernelLayer> Branch { get; } = branch;
    /// <summary>Empty: identity shortcut.</summary>
    public IReadOnlyList<IKernelLayer> Shortcut { get; } = shortcut ?? [];

    /// <summary>The kernel layer of GpuNtk's <see cref="ResidualBlock"/>: branch φ → conv → φ → conv, shortcut identity or 1×1 conv.</summary>
    public static ResidualKernelLayer For(ResidualBlock block, KernelLayerBuilder builder) => new(
        builder.Layers([block.act1, block.conv1, block.act2, block.conv2]),
        block.shortcut is null ? null : builder.Layers([block.shortcut]));

    public string Name => $"residual([{string.Join(", ", Branch.Select(l => l.Name))}] + [{(Shortcut.Count == 0 ? "identity" : string.Join(", ", Shortcut.Select(l => l.Name)))}])";

    public KernelState Apply(KernelState state, KernelContext context)
    {
        var b = KernelLayers.ApplyAll(Branch, state.DeepCopy(), context);
        var s = KernelLayers.ApplyAll(Shortcut, state, context);
        var nngp = b.Nngp.add_(s.Nngp);
        var ntk = (b.Ntk, s.Ntk) switch
        {
            (null, null) => null,
            (null, var y) => y.clone(),
            (var x, null) => x,
            (var x, var y) => x.add_(y),
        };
        return new KernelState(nngp, ntk, state.IsPairs, b.IsSpatial);
    }
}
