using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// How one kind of module contributes to Θ, given a call's input and backprop signals (<see cref="ModuleCall"/>):
/// the per-example Jacobian of the module's own trainable parameters, and optionally a structured contraction that
/// never forms it. Rules are found through an <see cref="NtkRuleRegistry"/> keyed by module type (adding a layer
/// type: src/GpuNtk/Kernels/README.md, "Adding a layer").
/// </summary>
public interface ILayerNtkRule
{
    /// <summary>
    /// The per-example Jacobian splits into this many independent slices of the parameters (dense: output features,
    /// convolution: output channels; 1 where the rule cannot split), each <see cref="SliceWidth"/> wide, so a large
    /// layer can be contracted piece by piece within a memory budget.
    /// </summary>
    long Slices(ModuleCall call);

    /// <summary>Jacobian elements per slice, per example and output.</summary>
    long SliceWidth(ModuleCall call);

    /// <summary>Per-example Jacobian of slices [start, start + count) of the module's own trainable parameters: <c>[N, O, count·width]</c>.</summary>
    Tensor Jacobian(ModuleCall call, long start, long count);

    /// <summary>
    /// Adds the contribution of the module's parameters through calls <paramref name="c1"/> (rows of the block) and
    /// <paramref name="c2"/> (columns) to <paramref name="acc"/> without forming Jacobians; false when the rule has no
    /// structured form (the caller then contracts <see cref="Jacobian"/>s).
    /// </summary>
    bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc);
}
