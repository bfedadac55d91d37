using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Per-example derivatives of a fully connected network (<see cref="DenseNetworkPlan"/>) in one batched autograd pass: every row r gets its own copy θ_r of the parameters, so f(x_r; θ_r) depends on θ_r alone and
/// ∂/∂θ_r of a sum over rows is row r's own derivative. Higher derivatives are double/triple backward through that
/// graph (Hessian-vector products by double backward), which is why one call serves R different (example, direction)
/// pairs. Cost per call: a few passes over R·P numbers (the copies), memory-bound; no R×P×P object is ever formed.
/// </summary>
internal sealed class BatchedDenseDerivatives(DenseNetworkPlan plan) : IPerExampleDerivatives
{
    public ParameterVector Parameters => plan.Parameters;

    public long BytesPerRow(int derivativeOrder) =>
        Parameters.Count * plan.Network.DType.ElementSize() * derivativeOrder switch { <= 1 => 4, 2 => 10, _ => 22 };

    public Tensor Outputs(Tensor x, Tensor? output = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return OutputSelection.Select(plan.Network.forward(x), output).MoveToOuterDisposeScope();
    }

    public Tensor Gradients(Tensor x, Tensor? output = null)
    {
        using var scope = NewDisposeScope();
        var leaves = Leaves(x.shape[0]);
        var f = Forward(x, output, leaves);
        return Grad(f.sum(), leaves, createGraph: false, x.shape[0]).MoveToOuterDisposeScope();
    }

    public Tensor HessianVectorProducts(Tensor x, Tensor v, Tensor? output = null)
    {
        using var scope = NewDisposeScope();
        long r = x.shape[0];
        var leaves = Leaves(r);
        var g = GradParts(Forward(x, output, leaves).sum(), leaves, createGraph: true);
        var s = Dot(g, Parameters.Split(v));
        return Grad(s, leaves, createGraph: false, r).MoveToOuterDisposeScope();
    }

    public Tensor ThirdDerivatives(Tensor x, Tensor u, Tensor v, Tensor? output = null)
    {
        using var scope = NewDisposeScope();
        long r = x.shape[0];
        var leaves = Leaves(r);
        var g = GradParts(Forward(x, output, leaves).sum(), leaves, createGraph: true);
        var hu = GradParts(Dot(g, Parameters.Split(u)), leaves, createGraph: true);
        return Grad(Dot(hu, Parameters.Split(v)), leaves, createGraph: false, r).MoveToOuterDisposeScope();
    }

    /// <summary>Per-row parameter copies θ_r, leaves of the graph: one tensor <c>[R, …shape]</c> per θ entry.</summary>
    private Tensor[] Leaves(long rows) => Parameters.Entries.Select(e =>
    {
        var p = e.Parameter.detach();
        var leaf = empty([rows, .. e.Shape], p.dtype, p.device);
        leaf.copy_(p.unsqueeze(0).expand([rows, .. e.Shape]));
        return leaf.requires_grad_(true);
    }).ToArray();

    private Tensor Forward(Tensor x, Tensor? output, Tensor[] leaves) => plan.Replay(x, output, (d, a) =>
    {
        var z = d.Weight is { } w
            ? bmm(leaves[w], a.unsqueeze(2)).squeeze(2)
            : a.matmul(d.Layer.weight.detach().t());
        return z.mul(d.Layer.WeightMultiplier).add(d.Bias is { } b ? leaves[b] : d.Layer.bias.detach(), alpha: d.Layer.BiasMultiplier);
    });

    private static Tensor Dot(Tensor?[] a, Tensor[] b)
    {
        Tensor? sum = null;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] is not { } ai || !ai.requires_grad) continue;
            var term = ai.mul(b[i]).sum();
            sum = sum is null ? term : sum.add(term);
        }
        // A derivative that no longer depends on θ (e.g. f quadratic in θ, third order): its derivative is zero.
        return sum ?? zeros(1, b[0].dtype, b[0].device).sum();
    }

    private static Tensor?[] GradParts(Tensor scalar, Tensor[] leaves, bool createGraph)
    {
        return ParameterGradients.OrNull([scalar], leaves, retainGraph: createGraph, createGraph: createGraph);
    }

    private Tensor Grad(Tensor scalar, Tensor[] leaves, bool createGraph, long rows)
    {
        var parts = GradParts(scalar, leaves, createGraph);
        return ParameterVector.Concatenate(ParameterGradients.ZerosForNull(parts, leaves), rows);
    }
}
