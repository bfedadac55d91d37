using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// How raw inputs enter the recursion: the covariance of the input representation, averaged over features
/// (channels) — the quantity a following dense or convolution layer scales by σ_w².
/// </summary>
public interface IKernelInput
{
    /// <summary>Features per example (<c>x.numel()/x.shape[0]</c> must equal it).</summary>
    long Features { get; }

    /// <summary>Every pair of <paramref name="x1"/> <c>[B1, …]</c> and <paramref name="x2"/> <c>[B2, …]</c>.</summary>
    KernelState Grid(Tensor x1, Tensor x2);

    /// <summary>Each example of <paramref name="x"/> with itself.</summary>
    KernelState Pairs(Tensor x);
}

/// <summary>Flat feature vectors of length d: K₀(x, x') = ⟨x, x'⟩/d.</summary>
public sealed class FlatKernelInput(long features) : IKernelInput
{
    public long Features { get; } = features;

    public KernelState Grid(Tensor x1, Tensor x2)
    {
        using var a = x1.reshape(x1.shape[0], -1);
        using var b = x2.reshape(x2.shape[0], -1);
        return new KernelState(a.matmul(b.t()).div_(Features), null, IsPairs: false, IsSpatial: false);
    }

    public KernelState Pairs(Tensor x)
    {
        using var a = x.reshape(x.shape[0], -1);
        return new KernelState(a.square().sum(1).div_(Features), null, IsPairs: true, IsSpatial: false);
    }
}

/// <summary>
/// Images <c>[C, H, W]</c> (given as <c>[N, C, H, W]</c> or flat <c>[N, C·H·W]</c>, channel-major like
/// <c>ToImageLayer</c>): K₀(x, x')(p, p') = Σ_c x_c(p)·x'_c(p')/C, shape <c>[…, H, W, H, W]</c>.
/// </summary>
public sealed class ImageKernelInput(long channels, long height, long width) : IKernelInput
{
    public long Channels { get; } = channels;
    public long Height { get; } = height;
    public long Width { get; } = width;
    public long Features => Channels * Height * Width;

    public KernelState Grid(Tensor x1, Tensor x2)
    {
        using var scope = NewDisposeScope();
        long b1 = x1.shape[0], b2 = x2.shape[0];
        var a = PixelsByChannel(x1);                                   // [B1·H·W, C]
        var b = PixelsByChannel(x2);
        var k = a.matmul(b.t()).div_(Channels)
            .view(b1, Height, Width, b2, Height, Width).permute(0, 3, 1, 2, 4, 5).contiguous();
        return new KernelState(k.MoveToOuterDisposeScope(), null, IsPairs: false, IsSpatial: true);
    }

    public KernelState Pairs(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], hw = Height * Width;
        var a = x.reshape(n, Channels, hw);
        var k = a.transpose(1, 2).bmm(a).div_(Channels).view(n, Height, Width, Height, Width);
        return new KernelState(k.MoveToOuterDisposeScope(), null, IsPairs: true, IsSpatial: true);
    }

    private Tensor PixelsByChannel(Tensor x) =>
        x.reshape(x.shape[0], Channels, Height, Width).permute(0, 2, 3, 1).reshape(-1, Channels);
}
