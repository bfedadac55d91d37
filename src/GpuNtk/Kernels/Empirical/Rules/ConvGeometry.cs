using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// What <see cref="Conv2dNtkRule"/> needs of a 2-D convolution y = conv(x, WM·W) + BM·b: its parameters, multipliers
/// and geometry, for GpuNtk's <see cref="Conv2dLayer"/> and for TorchSharp's <c>nn.Conv2d</c> (multipliers 1) when that
/// is an ordinary convolution (one group, no dilation, zero padding given as numbers); other convolutions take the
/// generic rule.
/// </summary>
internal sealed record ConvGeometry(
    Tensor Weight, Tensor? Bias, double WeightMultiplier, double BiasMultiplier,
    long KernelHeight, long KernelWidth, long StrideHeight, long StrideWidth, long PaddingHeight, long PaddingWidth)
{
    public long OutChannels => Weight.shape[0];
    /// <summary>C_in·k_h·k_w: the length of one patch.</summary>
    public long FanIn => Weight.shape[1] * KernelHeight * KernelWidth;

    public static ConvGeometry Of(Conv2dLayer c) => new(c.weight, c.bias, c.WeightMultiplier, c.BiasMultiplier,
        c.KernelSize, c.KernelSize, c.Stride, c.Stride, c.Padding, c.Padding);

    public static ConvGeometry? TryOf(TorchSharp.Modules.Conv2d c)
    {
        if (c.groups != 1 || c.transposed || c.padding_type is not null || c.padding_mode != PaddingModes.Zeros) return null;
        if (c.weight is null || c.padding is not { Length: 2 } p || c.stride is not { Length: 2 } s || c.dilation is not { Length: 2 } d) return null;
        if (d[0] != 1 || d[1] != 1) return null;
        return new ConvGeometry(c.weight, c.bias, 1.0, 1.0, c.weight.shape[2], c.weight.shape[3], s[0], s[1], p[0], p[1]);
    }
}
