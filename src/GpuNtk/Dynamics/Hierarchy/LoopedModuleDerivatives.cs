using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Per-example derivatives of any module (any output count, <see cref="OutputSelection"/>), one autograd graph per row (double/triple backward through
/// the module itself). Works for every architecture; slow (R separate passes). The fallback behind
/// <see cref="PerExampleDerivatives.For"/>, and an independent cross-check of the batched backend.
/// </summary>
internal sealed class LoopedModuleDerivatives(nn.Module<Tensor, Tensor> model) : IPerExampleDerivatives
{
    private readonly Tensor[] _params = ParameterVector.Of(model).Entries.Select(e => (Tensor)e.Parameter).ToArray();

    public ParameterVector Parameters { get; } = ParameterVector.Of(model);

    public long BytesPerRow(int derivativeOrder) => Parameters.Count * _params[0].dtype.ElementSize() * 4;

    public Tensor Outputs(Tensor x, Tensor? output = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return OutputSelection.Select(model.forward(x), output).MoveToOuterDisposeScope();
    }

    public Tensor Gradients(Tensor x, Tensor? output = null) => Rows(x, output, (f, _) => Grad(f, createGraph: false));

    public Tensor HessianVectorProducts(Tensor x, Tensor v, Tensor? output = null) =>
        Rows(x, output, (f, r) => Grad(Dot(Grad(f, createGraph: true), v[r]), createGraph: false));

    public Tensor ThirdDerivatives(Tensor x, Tensor u, Tensor v, Tensor? output = null) =>
        Rows(x, output, (f, r) => Grad(Dot(Grad(Dot(Grad(f, createGraph: true), u[r]), createGraph: true), v[r]), createGraph: false));

    private Tensor Rows(Tensor x, Tensor? output, Func<Tensor, long, Tensor> row)
    {
        using var scope = NewDisposeScope();
        var rows = new Tensor[x.shape[0]];
        for (long r = 0; r < x.shape[0]; r++)
        {
            using var rowScope = NewDisposeScope();
            var f = OutputSelection.Select(model.forward(x.narrow(0, r, 1)), output?.narrow(0, r, 1));
            rows[r] = row(f.reshape([]), r).MoveToOuterDisposeScope();
        }
        return stack(rows).MoveToOuterDisposeScope();
    }

    /// <summary>∇θ of a scalar as a flat <c>[P]</c> vector; zero when the scalar no longer depends on θ.</summary>
    private Tensor Grad(Tensor scalar, bool createGraph)
    {
        if (!scalar.requires_grad) return zeros(Parameters.Count, _params[0].dtype, _params[0].device);
        return ParameterGradients.Flat([scalar], _params, retainGraph: createGraph, createGraph: createGraph);
    }

    private static Tensor Dot(Tensor a, Tensor b) => a.mul(b).sum();
}
