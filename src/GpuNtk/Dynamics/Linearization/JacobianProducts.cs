using GpuNtk.Kernels.Autograd;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Linearization;

/// <summary>
/// Products with the Jacobian J = ∂f(x; θ)/∂θ and the output Hessians H_a = ∂²f_a/∂θ² of a module at its current
/// parameters — J and H are never formed. TorchSharp has no forward-mode AD: a Jacobian-vector product runs
/// <see cref="ForwardModeJvp"/> (≈ 3F, in units of one forward pass F) where every layer has a tangent rule (GpuNtk's
/// networks), else the double-backward trick: with a dummy cotangent u, g(u) = Jᵀu is linear in u, and
/// ∂⟨g(u), v⟩/∂u = J·v (≈ 5F). VJP ≈ 3F; second directional derivative ≈ 10F.
/// </summary>
/// <remarks>
/// <c>parameters</c> are the θ to differentiate against (typically the module's parameters that require
/// gradients); each tangent must have its parameter's shape. Results are on the module's device and dtype and carry no
/// autograd graph unless stated. Parameters the output does not depend on get zero rows.
/// </remarks>
public static class JacobianProducts
{
    /// <summary>J(x)·v, shaped like f(x). Also returns f(x) (detached), which the computation needs anyway.</summary>
    public static (Tensor Output, Tensor Jvp) Jvp(nn.Module<Tensor, Tensor> module, IReadOnlyList<Parameter> parameters, Tensor x,
                                                  IReadOnlyList<Tensor> tangents)
    {
        CheckTangents(parameters, tangents, nameof(tangents));
        if (ForwardModeJvp.TryCompute(module, parameters, x, tangents) is { } forward) return forward;
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var f = module.forward(x);
        var jvp = JvpOf(f, parameters, tangents, createGraph: false);
        return (f.detach().MoveToOuterDisposeScope(), jvp.MoveToOuterDisposeScope());
    }

    /// <summary>Jᵀ(x)·w, one tensor per parameter; <paramref name="cotangent"/> is shaped like f(x).</summary>
    public static Tensor[] Vjp(nn.Module<Tensor, Tensor> module, IReadOnlyList<Parameter> parameters, Tensor x, Tensor cotangent)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var f = module.forward(x);
        CheckCotangent(f, cotangent);
        var result = VjpOf(f, parameters, cotangent, createGraph: false);
        foreach (var t in result) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// The NTK-vector product Θ(x, x)·w = J·(Jᵀw) for w shaped like f(x) (full NTK, rows example-major), without forming
    /// J or Θ: one VJP and one JVP (≈ 8F), by <see cref="Kernels.Autograd.NtkVectorProduct"/> (the product's one home).
    /// </summary>
    public static Tensor NtkVectorProduct(nn.Module<Tensor, Tensor> module, IReadOnlyList<Parameter> parameters, Tensor x, Tensor w)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var product = new Kernels.Autograd.NtkVectorProduct(module, parameters, x);
        CheckCotangent(product.Output, w);
        return product.Multiply(w).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The second directional derivative (vᵀ·H_a·v)_a = d²/dε² f(x; θ + εv) at ε = 0, shaped like f(x).
    /// </summary>
    public static Tensor SecondDirectional(nn.Module<Tensor, Tensor> module, IReadOnlyList<Parameter> parameters, Tensor x,
                                           IReadOnlyList<Tensor> tangents)
    {
        CheckTangents(parameters, tangents, nameof(tangents));
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var f = module.forward(x);
        var jvp = JvpOf(f, parameters, tangents, createGraph: true);
        return SecondDirectionalOf(jvp, parameters, tangents).MoveToOuterDisposeScope();
    }

    // ---- building blocks on an existing graph f(θ) (grad mode on); used by the linearized model's autograd functions ----

    /// <summary>Jv from the graph of <paramref name="f"/>; with <paramref name="createGraph"/> the result stays differentiable in θ.</summary>
    internal static Tensor JvpOf(Tensor f, IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor> tangents, bool createGraph) =>
        // retain_graph: a JVP kept differentiable in θ (second order) differentiates through f's graph again.
        new JacobianOperator(f, parameters, retainGraph: createGraph).Apply(tangents, retainGraph: createGraph, createGraph: createGraph);

    /// <summary>Jᵀw from the graph of <paramref name="f"/> (the graph is kept when <paramref name="createGraph"/>).</summary>
    internal static Tensor[] VjpOf(Tensor f, IReadOnlyList<Parameter> parameters, Tensor w, bool createGraph) =>
        ParameterGradients.Of([f], parameters, [w], retainGraph: createGraph, createGraph: createGraph);

    /// <summary>(vᵀH_a v)_a from a JVP that was computed with its graph in θ.</summary>
    internal static Tensor SecondDirectionalOf(Tensor jvp, IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor> tangents) =>
        // Jv depends on θ only where f is not affine in θ; otherwise the Hessian term vanishes (the operator gives zeros).
        new JacobianOperator(jvp, parameters, retainGraph: true).Apply(tangents, retainGraph: false);

    /// <summary>Σ_a w_a·H_a·v given r = Jᵀw computed with its graph in θ (zeros where f is affine in θ).</summary>
    internal static Tensor[] HessianVectorOf(Tensor[] jtw, IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor> tangents, bool createGraph)
    {
        var s = JacobianOperator.Contract(jtw, tangents);
        if (s is null || !s.requires_grad) return parameters.Select(p => zeros_like(p)).ToArray();
        return ParameterGradients.Of([s], parameters, retainGraph: createGraph, createGraph: createGraph);
    }

    internal static void CheckTangents(IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor> tangents, string argument)
    {
        if (tangents.Count != parameters.Count)
            throw new ArgumentException($"{tangents.Count} tangents for {parameters.Count} parameters: give one per parameter", argument);
        for (int k = 0; k < tangents.Count; k++)
        {
            if (!tangents[k].shape.SequenceEqual(parameters[k].shape))
                throw new ArgumentException($"tangent {k} has shape [{string.Join(", ", tangents[k].shape)}] but its parameter " +
                                            $"has [{string.Join(", ", parameters[k].shape)}]", argument);
        }
    }

    internal static void CheckCotangent(Tensor f, Tensor w)
    {
        if (!w.shape.SequenceEqual(f.shape))
            throw new ArgumentException($"cotangent has shape [{string.Join(", ", w.shape)}] but the output has [{string.Join(", ", f.shape)}]",
                                        "cotangent");
    }
}
