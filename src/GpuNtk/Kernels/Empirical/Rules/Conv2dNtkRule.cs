using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// <see cref="Conv2dLayer"/>: per-example weight gradients from patches. With P_i = unfold(x_i) <c>[C_in·k², L]</c>
/// and signals G_ia <c>[C_out, L]</c>, ∂f_a(x_i)/∂W = WM·G_ia·P_iᵀ and ∂f_a(x_i)/∂b = BM·G_ia·1, computed for all
/// (i, a) by one batched matrix product, a slice of output channels at a time when memory is short; only this layer's
/// Jacobian (or a slice of it) exists at a time.
/// </summary>
internal sealed class Conv2dNtkRule(Conv2dLayer layer) : ILayerNtkRule
{
    public static Conv2dNtkRule? TryCreate(nn.Module module) => module is Conv2dLayer c ? new Conv2dNtkRule(c) : null;

    public long Slices(ModuleCall call) => layer.OutChannels;

    public long SliceWidth(ModuleCall call) =>
        (layer.weight.requires_grad ? layer.FanIn : 0) + (layer.bias.requires_grad ? 1 : 0);

    public Tensor Jacobian(ModuleCall call, long start, long count)
    {
        using var scope = NewDisposeScope();
        long n = call.Examples, o = call.Outputs, cout = count;
        var patches = nn.functional.unfold(call.Input, (layer.KernelSize, layer.KernelSize),
            padding: (layer.Padding, layer.Padding), stride: (layer.Stride, layer.Stride)); // [N, D, L]
        long l = patches.shape[2];
        var parts = new List<Tensor>();
        if (layer.weight.requires_grad) parts.Add(patches.mul_(layer.WeightMultiplier));
        if (layer.bias.requires_grad) parts.Add(full(n, 1, l, layer.BiasMultiplier, patches.dtype, patches.device));
        var scaled = parts.Count == 1 ? parts[0] : cat(parts, 1); // [N, K, L]
        var signal = call.Signal.narrow(2, start, count).reshape(n, o * cout, l);
        var j = signal.bmm(scaled.transpose(1, 2)).view(n, o, cout * scaled.shape[1]);
        return j.MoveToOuterDisposeScope();
    }

    public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc) => false;
}
