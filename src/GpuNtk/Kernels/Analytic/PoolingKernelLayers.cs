using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Average pooling over non-overlapping window×window patches (rows/columns beyond a whole window are dropped, as in
/// <c>avg_pool2d</c>): a linear map, so K'(P, P') = mean over p ∈ P, p' ∈ P' of K(p, p'), and likewise Θ.
/// </summary>
public sealed class AveragePoolKernelLayer(long window) : IKernelLayer
{
    public long Window { get; } = window >= 1 ? window : throw new ArgumentOutOfRangeException(nameof(window));

    public string Name => $"avg_pool{Window}";

    public KernelState Apply(KernelState state, KernelContext context)
    {
        if (!state.IsSpatial) throw new InvalidOperationException("average pooling needs an image representation");
        return state with { Nngp = Pool(state.Nngp), Ntk = state.Ntk is null ? null : Pool(state.Ntk) };
    }

    private Tensor Pool(Tensor t)
    {
        long r = t.dim(), k = Window;
        long h = t.shape[r - 4] / k, w = t.shape[r - 3] / k;
        var lead = t.shape[..(int)(r - 4)];
        using var cropped = t.narrow(r - 4, 0, h * k).narrow(r - 3, 0, w * k).narrow(r - 2, 0, h * k).narrow(r - 1, 0, w * k);
        using var split = cropped.reshape([.. lead, h, k, w, k, h, k, w, k]);
        int n = lead.Length;
        return split.mean([n + 1, n + 3, n + 5, n + 7]);
    }
}

/// <summary>Global average pooling <c>[C, H, W] → [C]</c>: K' = mean over all pixel pairs of K, likewise Θ.</summary>
public sealed class GlobalAveragePoolKernelLayer : IKernelLayer
{
    public string Name => "global_avg_pool";

    public KernelState Apply(KernelState state, KernelContext context)
    {
        if (!state.IsSpatial) throw new InvalidOperationException("global average pooling needs an image representation");
        long[] dims = [-4, -3, -2, -1];
        return new KernelState(state.Nngp.mean(dims), state.Ntk?.mean(dims), state.IsPairs, IsSpatial: false);
    }
}

/// <summary>
/// Flatten <c>[C, H, W] → [C·H·W]</c> (the CNTK readout without pooling): a following dense layer averages over
/// channels and pixels, so K' = mean over pixels p of K(p, p), likewise Θ.
/// </summary>
public sealed class FlattenKernelLayer : IKernelLayer
{
    public string Name => "flatten";

    public KernelState Apply(KernelState state, KernelContext context)
    {
        if (!state.IsSpatial) return state;
        return new KernelState(DiagonalMean(state.Nngp), state.Ntk is null ? null : DiagonalMean(state.Ntk), state.IsPairs, IsSpatial: false);
    }

    private static Tensor DiagonalMean(Tensor t)
    {
        long r = t.dim();
        long hw = t.shape[r - 4] * t.shape[r - 3];
        using var square = t.reshape([.. t.shape[..(int)(r - 4)], hw, hw]);
        return square.diagonal(0, -2, -1).mean([-1L]);
    }
}
