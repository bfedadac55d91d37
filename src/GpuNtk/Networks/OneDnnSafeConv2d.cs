using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// <c>conv2d</c> that sidesteps a libtorch 2.10 CPU bug. For float32, libtorch runs convolutions through oneDNN
/// 3.7.1, which on contiguous (NCHW) tensors picks direct JIT kernels on a channel-blocked layout (<c>aBcd16b</c> on
/// AVX-512, <c>aBcd8b</c> on AVX2). When a channel count does not fill its blocks those kernels return wrong values —
/// off by O(1), different with 1 and 2 threads, sometimes NaN — for batches of ≥ 2 examples: the gradient with respect
/// to the input (<c>backward_data</c>, also <c>conv_transpose2d</c>) for most shapes with 3×3 kernels, and even the
/// output when C_in &gt; 16 is not a multiple of 16 (measured on an AVX-512 AMD EPYC; 249 of 960 small shapes wrong).
/// Float64 (no oneDNN), CUDA and PyTorch 1.13's oneDNN are right. Every gradient that flows back through such a
/// convolution was wrong, so float32 training of small-channel CNNs and the NTK's backprop signals were wrong too.
/// <para>The fix: in float32 on the CPU, hand oneDNN channels-last (NHWC) input and weight, for which it uses
/// unblocked kernels (0 of the same 960 shapes wrong, 1 and 2 threads); a single input channel is padded with a zero
/// channel, since a 1-channel tensor's strides cannot say "channels-last". The result is the same function (its
/// output is channels-last; consumers must not assume NCHW strides). Checked against float64 by
/// <c>tests/GpuNtk.Tests/Networks/ConvolutionGradientTests.cs</c>.</para>
/// </summary>
internal static class OneDnnSafeConv2d
{
    /// <summary>True where the workaround applies: float32 on the CPU.</summary>
    internal static bool Needed(Tensor x) => x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;

    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias, long stride, long padding)
    {
        if (!Needed(x))
            return nn.functional.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = NewDisposeScope();
        if (x.shape[1] == 1)
        {
            x = nn.functional.pad(x, [0, 0, 0, 0, 0, 1]);
            weight = nn.functional.pad(weight, [0, 0, 0, 0, 0, 1]);
        }
        var y = nn.functional.conv2d(ChannelsLast(x), ChannelsLast(weight), bias, strides: [stride, stride], padding: [padding, padding]);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The same values with NHWC strides (no copy when they already are).</summary>
    internal static Tensor ChannelsLast(Tensor t)
    {
        long c = t.shape[1], h = t.shape[2], w = t.shape[3];
        var s = t.stride();
        bool already = s[1] == 1 && s[3] == c && s[2] == w * c && s[0] == h * w * c;
        return already ? t.alias() : t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }
}
