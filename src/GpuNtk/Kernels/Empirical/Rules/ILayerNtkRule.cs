using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// How one kind of module contributes to Θ, given a call's input and backprop signals (<see cref="ModuleCall"/>).
/// Adding a layer type = one new rule file + one line in <see cref="LayerRules"/>.
/// </summary>
internal interface ILayerNtkRule
{
    /// <summary>Per-example Jacobian of the module's own trainable parameters for one call: <c>[N, O, Q]</c>.</summary>
    Tensor Jacobian(ModuleCall call);

    /// <summary>
    /// Adds the contribution of the module's parameters through calls <paramref name="c1"/> (rows of the block) and
    /// <paramref name="c2"/> (columns) to <paramref name="acc"/> without forming Jacobians; false when the rule has no
    /// structured form (the caller then contracts <see cref="Jacobian"/>s).
    /// </summary>
    bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc);
}
