using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Derivatives of a model output f(x; θ) along the gradient directions g_d = ∇θ f(x_d) of a fixed set of m
/// direction points — the only directions the hierarchy's kernels contract with. A point is an (example, output)
/// pair (<see cref="OutputSelection"/>). Row r of a call concerns input <c>x[r]</c> at output <c>o[r]</c> (and the
/// Int64 direction indices given for it) and returns its projections onto all m directions, so one call evaluates R
/// (point, direction) pairs. Results are detached, on the model's device and dtype.
/// </summary>
public interface IDirectionalDerivatives
{
    /// <summary>m, the number of direction points.</summary>
    long DirectionCount { get; }

    /// <summary>Rough working memory per row of a call of the given derivative order (1–3), in bytes.</summary>
    long BytesPerRow(int order);

    /// <summary>Memory one row returned by <see cref="HessianVectorProducts"/> keeps, in bytes.</summary>
    long HessianVectorBytesPerRow { get; }

    /// <summary><c>[R, m]</c>: ∇f(x_r) · g_d.</summary>
    Tensor FirstOrder(Tensor x, Tensor o);

    /// <summary><c>[R, m]</c>: ∇²f(x_r)[g_d, g_{e_r}].</summary>
    Tensor SecondOrder(Tensor x, Tensor o, Tensor e);

    /// <summary><c>[R, m]</c>: ∇³f(x_r)[g_d, g_{k_r}, g_{l_r}].</summary>
    Tensor ThirdOrder(Tensor x, Tensor o, Tensor k, Tensor l);

    /// <summary>The Hessian-vector products ∇²f(x_r)·g_{d_r}, in a backend-specific representation (for <see cref="HessianVectorGram"/>).</summary>
    Tensor[] HessianVectorProducts(Tensor x, Tensor o, Tensor d);

    /// <summary><c>[R, S]</c>: inner products ⟨∇²f(x_r) g_{d_r}, ∇²f(y_s) g_{e_s}⟩ of two sets of Hessian-vector products.</summary>
    Tensor HessianVectorGram(Tensor[] left, Tensor[] right);
}
