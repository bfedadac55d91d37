using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Derivatives of a model output f(x; θ) with respect to its parameters θ (layout: <see cref="ParameterVector"/>),
/// one row per example, at the model's current θ. Row r of every call concerns input <c>x[r]</c>, its output
/// <c>output[r]</c> (Int64 <c>[R]</c>; null for a scalar-output model) and, where given, the direction rows
/// <c>u[r]</c>, <c>v[r]</c> — so a single call evaluates many (example, output, direction) triples at once.
/// Results are <c>[R, P]</c> on the model's device and dtype, detached.
/// </summary>
public interface IPerExampleDerivatives
{
    /// <summary>The parameter layout θ.</summary>
    ParameterVector Parameters { get; }

    /// <summary>Rough working memory one row of <see cref="ThirdDerivatives"/> needs, in bytes; chunk sizes derive from it.</summary>
    long BytesPerRow(int derivativeOrder);

    /// <summary>f(x_r): <c>[R]</c>.</summary>
    Tensor Outputs(Tensor x, Tensor? output = null);

    /// <summary>∇θ f(x_r): <c>[R, P]</c>.</summary>
    Tensor Gradients(Tensor x, Tensor? output = null);

    /// <summary>Hessian-vector products ∇²θ f(x_r) · v_r: <c>[R, P]</c>.</summary>
    Tensor HessianVectorProducts(Tensor x, Tensor v, Tensor? output = null);

    /// <summary>Third-derivative contractions ∇³θ f(x_r)[u_r, v_r, ·]: <c>[R, P]</c>.</summary>
    Tensor ThirdDerivatives(Tensor x, Tensor u, Tensor v, Tensor? output = null);
}
