using System.Globalization;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// <see cref="LayerNormLayer"/> on features: its input h is a zero-mean Gaussian process (it comes straight out of a
/// dense layer), so as the width → ∞ the feature mean → 0 and the feature variance → K(x, x); the layer divides by a
/// deterministic √(K(x, x) + ε), and the gradients through the mean and variance vanish with the width. Hence
/// K'(x, x') = K(x, x')/√((K(x, x) + ε)·(K(x', x') + ε)) and Θ' = Θ with the same factor (Neural Tangents'
/// <c>stax.LayerNorm</c>). After a nonlinearity the feature mean is not zero and this rule would be wrong, so
/// <see cref="For"/> accepts a LayerNorm only right after a dense layer (on images — after a convolution — the
/// normaliser would be the pixel mean of K(p, p); not implemented).
/// </summary>
public sealed class LayerNormKernelLayer(double epsilon) : IKernelLayer
{
    public double Epsilon { get; } = epsilon;

    public string Name => string.Create(CultureInfo.InvariantCulture, $"layer_norm(eps={Epsilon:G6})");

    /// <summary>The kernel layer of <paramref name="layer"/>; throws when its input is not a zero-mean Gaussian.</summary>
    public static LayerNormKernelLayer For(LayerNormLayer layer, KernelLayerBuilder builder) =>
        builder.Previous is DenseLayer
            ? new LayerNormKernelLayer(layer.Epsilon)
            : throw new NotSupportedException($"LayerNorm after {builder.Previous?.GetType().Name ?? "the input"}: its infinite-width " +
                                              "kernel is known only for a zero-mean Gaussian input; put it directly after a dense layer");

    public KernelState Apply(KernelState state, KernelContext context)
    {
        if (state.IsSpatial)
            throw new InvalidOperationException("the LayerNorm kernel is implemented on features; put LayerNorm after a dense layer");
        var (var1, var2) = context.Variances(this, state);
        using var v1 = var1.add(Epsilon);
        using var v2 = var2.add(Epsilon);
        using var scale = v1.mul(v2).rsqrt_(); // [B1, B2] (grid) or [B] (pairs)
        return state with { Nngp = state.Nngp.mul_(scale), Ntk = state.Ntk?.mul_(scale) };
    }
}
