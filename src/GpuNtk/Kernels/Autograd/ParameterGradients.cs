using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Autograd;

/// <summary>
/// Reverse-mode derivatives of outputs with respect to leaves (parameters, captured activations, dummy cotangents)
/// where some leaves may not reach the outputs — the one place that turns <c>autograd.grad(…, allow_unused: true)</c>
/// into usable tensors. An unreached leaf's derivative is zero; <see cref="OrNull"/> keeps it as <c>null</c> for callers
/// that skip it, <see cref="Of"/> fills zeros, <see cref="Flat"/> concatenates the flattened pieces into one <c>[P]</c> row.
/// </summary>
/// <remarks>
/// Outputs that do not require gradients (nothing reaches them) give all-null/zero results instead of an autograd error.
/// The <c>cotangents</c> are the vectors w of the vector-Jacobian product wᵀ·∂outputs/∂leaves (null: scalar
/// outputs, w = 1). The graph is freed unless <c>retainGraph</c>; <c>createGraph</c> keeps the result differentiable.
/// </remarks>
public static class ParameterGradients
{
    /// <summary>∂outputs/∂leaves, <c>null</c> for every leaf the outputs do not reach.</summary>
    public static Tensor?[] OrNull(IList<Tensor> outputs, IReadOnlyList<Tensor> leaves, IList<Tensor>? cotangents = null,
                                   bool retainGraph = false, bool createGraph = false)
    {
        if (!outputs.Any(o => o.requires_grad)) return new Tensor?[leaves.Count];
        var grads = autograd.grad(outputs, leaves.ToList(), cotangents, retain_graph: retainGraph, create_graph: createGraph,
                                  allow_unused: true);
        return grads.Select(g => g is null || g.IsInvalid ? null : g).ToArray();
    }

    /// <summary>∂outputs/∂leaves, one tensor per leaf in the leaf's shape (zeros where the outputs do not reach it).</summary>
    public static Tensor[] Of(IList<Tensor> outputs, IReadOnlyList<Tensor> leaves, IList<Tensor>? cotangents = null,
                              bool retainGraph = false, bool createGraph = false) =>
        ZerosForNull(OrNull(outputs, leaves, cotangents, retainGraph, createGraph), leaves);

    /// <summary>∂outputs/∂leaves flattened and concatenated in leaf order: <c>[Σ numel]</c>.</summary>
    public static Tensor Flat(IList<Tensor> outputs, IReadOnlyList<Tensor> leaves, IList<Tensor>? cotangents = null,
                              bool retainGraph = false, bool createGraph = false) =>
        cat(Of(outputs, leaves, cotangents, retainGraph, createGraph).Select(g => g.reshape(-1)).ToArray());

    /// <summary>Replaces each missing derivative by zeros shaped like its leaf.</summary>
    public static Tensor[] ZerosForNull(IReadOnlyList<Tensor?> grads, IReadOnlyList<Tensor> leaves) =>
        grads.Select((g, k) => g ?? zeros_like(leaves[k])).ToArray();
}
