using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The NTK by NTK-vector products Θ(X1, X2)·v = J1·(J2ᵀ·v) (<see cref="NtkVectorProduct"/>), without forming J: the
/// VJP u = J2ᵀ·v is one backward pass through f(X2), the JVP J1·u a double backward on the retained graph of f(X1).
/// Works for any module (no hooks, no rules).
/// Θ itself takes one product per column (N2·O of them), each reusing both retained graphs: cost ≈ 2·N2·O
/// backward passes (the VJPs on single examples, the JVPs on the row tile) — slow, but memory is that of two
/// forward graphs.
/// </summary>
internal sealed class VectorProductNtk(ModelPlan plan, CancellationToken cancellation) : INtkBlockKernel
{
    public NtkImplementation Implementation => NtkImplementation.VectorProducts;

    private sealed class InputTile(Tensor x) : TileFeatures(x.shape[0])
    {
        public Tensor X { get; } = x;
        public override void Dispose() => X.Dispose();
    }

    public TileFeatures Prepare(Tensor x)
    {
        var alias = x.alias();
        alias.DetachFromDisposeScope();
        return new InputTile(alias);
    }

    public Tensor Block(TileFeatures rows, TileFeatures columns, NtkOutput output)
    {
        using var scope = NewDisposeScope();
        var full = FullBlock(((InputTile)rows).X, ((InputTile)columns).X); // [b1, b2, O, O]
        var result = output == NtkOutput.Trace ? full.diagonal(0, 2, 3).mean([-1L]) : full;
        return result.MoveToOuterDisposeScope();
    }

    public Tensor Diagonal(TileFeatures tile, NtkOutput output)
    {
        var x = ((InputTile)tile).X;
        using var scope = NewDisposeScope();
        var blocks = new List<Tensor>();
        for (long i = 0; i < x.shape[0]; i++)
        {
            var xi = x.narrow(0, i, 1);
            blocks.Add(FullBlock(xi, xi)[0, 0]);
        }
        var diag = stack(blocks); // [b, O, O]
        return (output == NtkOutput.DiagonalTrace ? diag.diagonal(0, 1, 2).mean([-1L]) : diag).MoveToOuterDisposeScope();
    }

    /// <summary>Θ(X1, X2) as <c>[N1, N2, O, O]</c>, one vector product per (example, output) of X2.</summary>
    private Tensor FullBlock(Tensor x1, Tensor x2)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var ps = Parameters();
        long n1 = x1.shape[0], n2 = x2.shape[0], o = plan.Outputs;
        var product = new NtkVectorProduct(plan.Model, ps, x1);
        var columns = new List<Tensor>();
        var basis = eye(o, dtype: x2.dtype, device: x2.device);
        for (long j = 0; j < n2; j++)
        {
            cancellation.ThrowIfCancellationRequested();
            // J2ᵀ·e_(j,b) involves example j only: one forward of that example, O backward passes through it.
            using var example = NewDisposeScope();
            var f2 = plan.Model.call(x2.narrow(0, j, 1)).reshape(1, o);
            for (long b = 0; b < o; b++)
            {
                // One scope per product: the VJP is parameter-sized and must not outlive its column.
                using var column = NewDisposeScope();
                var u = ParameterGradients.OrNull([f2], ps, [basis.narrow(0, b, 1)], retainGraph: b + 1 < o);
                columns.Add(product.ApplyJacobian(u).reshape(n1, o).MoveToOtherDisposeScope(scope)); // Θ[:, j, :, b]: [N1, O]
            }
        }
        // columns are ordered (j, b): [N2·O, N1, O] → [N1, N2, O(a), O(b)].
        var theta = stack(columns).view(n2, o, n1, o).permute(2, 0, 3, 1).contiguous();
        return theta.MoveToOuterDisposeScope();
    }

    private Tensor[] Parameters() => plan.Model.parameters().Where(p => p.requires_grad).Select(p => (Tensor)p).ToArray();

    /// <summary>Θ(X1, X2)·v for <paramref name="v"/> <c>[N2, O]</c>: <c>[N1, O]</c>.</summary>
    public Tensor Multiply(Tensor x1, Tensor x2, Tensor v)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var result = new NtkVectorProduct(plan.Model, Parameters(), x1).Multiply(x2, v).reshape(x1.shape[0], plan.Outputs);
        return result.MoveToOuterDisposeScope();
    }

    public long FeatureBytesPerExample => plan.ElementSize * 6 * plan.ActivationElements;

    public long BlockBytesPerPair(NtkOutput output) => plan.ElementSize * 2 * plan.Outputs * plan.Outputs;
}
