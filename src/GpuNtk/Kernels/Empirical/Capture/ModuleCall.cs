using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// One call of a module that owns trainable parameters, as seen by a forward hook in a capture pass over a tile of
/// N examples with O outputs each: the call's input for the N examples and the backprop signal of every output.
/// </summary>
public sealed class ModuleCall(nn.Module module, ILayerNtkRule rule, Tensor input, Tensor signal)
{
    public nn.Module Module { get; } = module;

    /// <summary>The rule that turns this call into NTK contributions.</summary>
    public ILayerNtkRule Rule { get; } = rule;

    /// <summary>The call's input, one row per example: <c>[N, …]</c>.</summary>
    public Tensor Input { get; } = input;

    /// <summary>∂f_a(x_i)/∂(call output) for every example i and output a: <c>[N, O, …output shape]</c>.</summary>
    public Tensor Signal { get; } = signal;

    public long Examples => Signal.shape[0];
    public long Outputs => Signal.shape[1];
}
