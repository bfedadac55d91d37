using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// The dual of an elementwise nonlinearity φ (Daniely et al. 2016): for a centred Gaussian pair
/// (u, v) ~ N(0, [[k11, k12], [k12, k22]]) it gives T = E[φ(u)·φ(v)] and Ṫ = E[φ'(u)·φ'(v)], elementwise over
/// tensors. This is all the infinite-width recursion needs to know about φ (src/GpuNtk/Kernels/README.md).
/// </summary>
public interface IDualActivation
{
    /// <summary>Short name, e.g. <c>relu</c>, <c>abrelu(a=0.1,b=1)</c>, <c>quadrature(tanh,64)</c>.</summary>
    string Name { get; }

    /// <summary>
    /// T and (when <paramref name="derivative"/>) Ṫ for covariances <paramref name="k12"/> and variances
    /// <paramref name="k11"/>, <paramref name="k22"/> broadcastable to it. Results have the shape of the broadcast and
    /// the dtype/device of <paramref name="k12"/>; Ṫ is null when not asked for. Inputs are never modified.
    /// </summary>
    (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative);
}
