using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// Layer normalisation without affine parameters: each example's features (all dims after the batch dim) are
/// centred and scaled to unit variance, <c>y = (h − mean(h))/√(var(h) + ε)</c>. Parameter-free — no trainable gain
/// or bias — like Neural Tangents' <c>stax.LayerNorm</c>, so the empirical NTK needs no rule for it (it is on the
/// backprop path) and its infinite-width kernel (<c>Kernels/Analytic/LayerNormKernelLayer</c>) needs no parameter
/// distribution. Spec key <c>norm=layer</c> on <c>fcn</c> puts one after every hidden dense layer, before φ.
/// </summary>
public sealed class LayerNormLayer(double epsilon = 1e-5) : nn.Module<Tensor, Tensor>("layer_norm")
{
    /// <summary>ε added to the variance (PyTorch's default 1e-5).</summary>
    public double Epsilon { get; } = epsilon >= 0 && double.IsFinite(epsilon)
        ? epsilon : throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "LayerNorm's epsilon must be ≥ 0 and finite");

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, x.shape[1..], eps: Epsilon);
}
