using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The oracle: one autograd.grad call per (example, output), explicit Jacobian rows, Θ = J₁·J₂ᵀ.
/// Slow and memory-hungry (N·O·P); for tests and tiny problems only.
/// </summary>
public static class ReferenceNtk
{
    /// <summary>Explicit Jacobian <c>[N, O, P]</c> of <paramref name="model"/> at <paramref name="x"/>.</summary>
    public static Tensor Jacobian(nn.Module<Tensor, Tensor> model, Tensor x)
    {
        var ps = model.parameters().Where(p => p.requires_grad).ToArray();
        long n = x.shape[0];
        var rows = new List<Tensor>();
        using var scope = NewDisposeScope();
        for (long i = 0; i < n; i++)
        {
            var fi = model.forward(x.narrow(0, i, 1)).reshape(-1);
            for (long a = 0; a < fi.shape[0]; a++)
            {
                rows.Add(ParameterGradients.Flat([fi[a]], ps, retainGraph: a + 1 < fi.shape[0]));
            }
        }
        long o = rows.Count / n;
        return stack(rows).reshape(n, o, -1).MoveToOuterDisposeScope();
    }

    /// <summary>Θ(X1, X2) by explicit Jacobians; <paramref name="x2"/> null means X1.</summary>
    public static Tensor Compute(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2, NtkOutput output)
    {
        using var scope = NewDisposeScope();
        var j1 = Jacobian(model, x1);
        var j2 = x2 is null ? j1 : Jacobian(model, x2);
        Tensor result = output switch
        {
            NtkOutput.Full => einsum("iap,jbp->ijab", j1, j2),
            NtkOutput.Trace => einsum("iap,jap->ij", j1, j2) / j1.shape[1],
            NtkOutput.DiagonalFull => einsum("iap,ibp->iab", j1, j1),
            NtkOutput.DiagonalTrace => einsum("iap,iap->i", j1, j1) / j1.shape[1],
            _ => throw new ArgumentOutOfRangeException(nameof(output)),
        };
        return result.MoveToOuterDisposeScope();
    }
}
