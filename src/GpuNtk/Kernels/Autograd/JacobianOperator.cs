using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Autograd;

/// <summary>
/// u ↦ J·u for the Jacobian J = ∂f/∂θ of an output f already computed with its graph, by reverse mode only (TorchSharp
/// has no forward mode): with a dummy cotangent w, g(w) = Jᵀw is built once with create_graph; it is linear in w, so
/// ∂⟨g(w), u⟩/∂w = J·u. Every <see cref="Apply"/> reuses that graph (one backward pass each).
/// </summary>
/// <remarks>Construct and use under grad mode, inside a dispose scope that outlives the uses.</remarks>
public sealed class JacobianOperator
{
    private readonly Tensor _w;
    private readonly Tensor?[] _g;

    /// <param name="f">The output, with its autograd graph in <paramref name="parameters"/>.</param>
    /// <param name="parameters">θ, the leaves J differentiates against.</param>
    /// <param name="retainGraph">Keep f's graph for later backward passes (e.g. a VJP after this operator is built).</param>
    public JacobianOperator(Tensor f, IReadOnlyList<Tensor> parameters, bool retainGraph = true)
    {
        _w = zeros_like(f).requires_grad_(true);
        _g = ParameterGradients.OrNull([f], parameters, [_w], retainGraph: retainGraph, createGraph: true);
    }

    /// <summary>
    /// J·u shaped like f, for <paramref name="u"/> one tangent per parameter (null or a parameter f does not reach: no
    /// contribution). With <paramref name="createGraph"/> the result stays differentiable in θ (second order).
    /// </summary>
    public Tensor Apply(IReadOnlyList<Tensor?> u, bool retainGraph = true, bool createGraph = false)
    {
        var s = Contract(_g, u);
        // No parameter reaches f: J = 0.
        if (s is null || !s.requires_grad) return zeros_like(_w);
        var jvp = ParameterGradients.OrNull([s], [_w], retainGraph: retainGraph, createGraph: createGraph)[0];
        if (jvp is null) return zeros_like(_w);
        return createGraph ? jvp : jvp.detach();
    }

    /// <summary>Σ_k ⟨g_k, v_k⟩ over the pairs where both are defined (null when none is); v is a constant direction.</summary>
    internal static Tensor? Contract(IReadOnlyList<Tensor?> g, IReadOnlyList<Tensor?> v)
    {
        Tensor? s = null;
        for (int k = 0; k < g.Count; k++)
        {
            if (g[k] is not { } gk || v[k] is not { } vk) continue;
            var term = gk.mul(vk.detach()).sum();
            s = s is null ? term : s.add(term);
        }
        return s;
    }
}
