using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// The infinite-width NNGP and NTK of one representation (the output of some layer) between two batches of inputs.
/// <para>
/// Layout: leading batch dims, then — for images — the pixel-pair dims <c>[H, W, H', W']</c> (entry
/// <c>[…, h, w, h', w']</c> is the covariance of a channel at pixel (h, w) of the first input with the same channel at
/// (h', w') of the second). Batch dims are <c>[B1, B2]</c> in grid mode (every pair) or <c>[B]</c> in pair mode
/// (example b with itself — the self-covariances the nonlinearities need).
/// </para>
/// <para>
/// <see cref="Ntk"/> is null when the NTK is not tracked (<see cref="KernelContext.TrackNtk"/> false) or while it is
/// still identically zero (before the first parameterized layer). Layers may overwrite the tensors of the state they
/// are given; the caller must not use it afterwards.
/// </para>
/// </summary>
public sealed record KernelState(Tensor Nngp, Tensor? Ntk, bool IsPairs, bool IsSpatial)
{
    /// <summary>Number of leading batch dims.</summary>
    public int BatchRank => IsPairs ? 1 : 2;

    /// <summary>A deep copy (for layers that feed one state into two branches).</summary>
    public KernelState DeepCopy() => this with { Nngp = Nngp.clone(), Ntk = Ntk?.clone() };

    /// <summary>
    /// The self-variances of the current representation in pair mode: <c>[B]</c> for features, <c>[B, H, W]</c> for
    /// images (the diagonal over pixel pairs).
    /// </summary>
    public Tensor PairDiagonal()
    {
        if (!IsPairs) throw new InvalidOperationException("self-variances are read off pair-mode states only");
        if (!IsSpatial) return Nngp.alias();
        long b = Nngp.shape[0], h = Nngp.shape[1], w = Nngp.shape[2];
        return Nngp.reshape(b, h * w, h * w).diagonal(0, 1, 2).reshape(b, h, w);
    }

    /// <summary>
    /// Views of the self-variances <paramref name="var1"/> (<c>[B1]</c> or <c>[B1, H, W]</c>) and
    /// <paramref name="var2"/> that broadcast against <see cref="Nngp"/>.
    /// </summary>
    public (Tensor Var1, Tensor Var2) Broadcast(Tensor var1, Tensor var2)
    {
        if (!IsSpatial)
            return IsPairs ? (var1.alias(), var2.alias()) : (var1.unsqueeze(1), var2.unsqueeze(0));
        long h = var1.shape[^2], w = var1.shape[^1];
        return IsPairs
            ? (var1.view(-1, h, w, 1, 1), var2.view(-1, 1, 1, h, w))
            : (var1.view(-1, 1, h, w, 1, 1), var2.view(1, -1, 1, 1, h, w));
    }
}
