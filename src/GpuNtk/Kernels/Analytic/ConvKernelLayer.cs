using System.Globalization;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// 2-D convolution (odd square kernel k, stride s, zero padding k/2 — <c>Conv2dLayer</c>'s SAME padding) in NTK
/// parameterization, weights scaled by σ_w/√(C·k²) whatever the pixel:
/// K'(p, p') = σ_w²/k²·Σ_δ K(s·p + δ, s·p' + δ) + σ_b² and Θ'(p, p') = K'(p, p') + σ_w²/k²·Σ_δ Θ(s·p + δ, s·p' + δ),
/// δ over the k×k window; a pixel outside the image is a zero input, so its terms vanish but still count in the k²
/// (as they do in the network's fan-in).
/// </summary>
public sealed class ConvKernelLayer : IKernelLayer
{
    public ConvKernelLayer(long kernelSize, long stride, double wStd, double bStd)
    {
        if (kernelSize < 1 || kernelSize % 2 == 0) throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "use an odd kernel size");
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be ≥ 1");
        (KernelSize, Stride, WStd, BStd) = (kernelSize, stride, wStd, bStd);
    }

    public long KernelSize { get; }
    public long Stride { get; }
    public double WStd { get; }
    public double BStd { get; }

    public string Name => string.Create(CultureInfo.InvariantCulture, $"conv{KernelSize}x{KernelSize}/{Stride}(wstd={WStd:G6},bstd={BStd:G6})");

    public KernelState Apply(KernelState state, KernelContext context)
    {
        if (!state.IsSpatial) throw new InvalidOperationException("a convolution needs an image representation");
        double scale = WStd * WStd / (KernelSize * KernelSize), b2 = BStd * BStd;
        var nngp = PatchSum(state.Nngp).mul_(scale).add_(b2);
        Tensor? ntk = null;
        if (context.TrackNtk)
            ntk = state.Ntk is null ? nngp.clone() : PatchSum(state.Ntk).mul_(scale).add_(nngp);
        return state with { Nngp = nngp, Ntk = ntk };
    }

    /// <summary>Σ_δ t(s·p + δ, s·p' + δ) over the last four dims <c>[H, W, H', W']</c>, zero outside the image.</summary>
    internal Tensor PatchSum(Tensor t)
    {
        long r = t.dim(), pad = KernelSize / 2;
        long h = t.shape[r - 4], w = t.shape[r - 3];
        var sum = t;
        if (pad > 0)
        {
            using var padded = nn.functional.pad(t, [pad, pad, pad, pad, pad, pad, pad, pad]);
            // Separable: shift the two row dims together, then the two column dims together (2k slices, not k²).
            using var rows = ShiftedSum(padded, r - 4, r - 2, h);
            sum = ShiftedSum(rows, r - 3, r - 1, w);
        }
        if (Stride == 1) return ReferenceEquals(sum, t) ? t.clone() : sum;
        var strided = sum.slice(r - 4, 0, h, Stride).slice(r - 3, 0, w, Stride)
                         .slice(r - 2, 0, h, Stride).slice(r - 1, 0, w, Stride).contiguous();
        if (!ReferenceEquals(sum, t)) sum.Dispose();
        return strided;
    }

    private Tensor ShiftedSum(Tensor padded, long dimA, long dimB, long size)
    {
        var acc = padded.narrow(dimA, 0, size).narrow(dimB, 0, size).clone();
        for (long d = 1; d < KernelSize; d++)
        {
            using var shifted = padded.narrow(dimA, d, size).narrow(dimB, d, size);
            acc.add_(shifted);
        }
        return acc;
    }
}
