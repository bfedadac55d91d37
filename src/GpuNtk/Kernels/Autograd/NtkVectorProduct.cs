using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Autograd;

/// <summary>
/// The NTK-vector product Θ(X1, X2)·v = J1·(J2ᵀ·v) of any module, without forming J or Θ — the one home of this
/// product (the vector-product NTK method, the linearized model's <c>JacobianProducts</c>, and λ_max by power
/// iteration all use it). J2ᵀ·v is one backward pass through f(X2) (a VJP); J1·u is a <see cref="JacobianOperator"/>
/// on the retained graph of f(X1), so repeated products on the same X1 cost one VJP and one JVP each (≈ 8 forward
/// passes), with the memory of the forward graphs.
/// </summary>
/// <remarks>
/// v and the results are shaped like the module's output (full NTK, rows example-major). Construct and use under grad
/// mode inside a dispose scope that outlives the uses; results carry no autograd graph.
/// </remarks>
public sealed class NtkVectorProduct
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly IReadOnlyList<Tensor> _parameters;
    private readonly JacobianOperator _jacobian;

    /// <param name="model">Any module; its output on <paramref name="x1"/> is computed once, with its graph.</param>
    /// <param name="parameters">θ (typically the module's parameters that require gradients).</param>
    /// <param name="x1">X1, the rows of Θ.</param>
    public NtkVectorProduct(nn.Module<Tensor, Tensor> model, IReadOnlyList<Tensor> parameters, Tensor x1)
    {
        _model = model;
        _parameters = parameters;
        Output = model.call(x1);
        _jacobian = new JacobianOperator(Output, parameters);
    }

    /// <summary>f(X1), with its graph.</summary>
    public Tensor Output { get; }

    /// <summary>Θ(X1, X1)·v for <paramref name="v"/> shaped like f(X1), reusing f(X1)'s graph for the VJP.</summary>
    public Tensor Multiply(Tensor v) =>
        ApplyJacobian(ParameterGradients.OrNull([Output], _parameters, [v.reshape(Output.shape)], retainGraph: true));

    /// <summary>Θ(X1, X2)·v for <paramref name="v"/> shaped like f(X2): one forward and one backward pass through X2.</summary>
    public Tensor Multiply(Tensor x2, Tensor v)
    {
        var f2 = _model.call(x2);
        return ApplyJacobian(ParameterGradients.OrNull([f2], _parameters, [v.reshape(f2.shape)]));
    }

    /// <summary>J1·u for <paramref name="u"/> one tangent per parameter (e.g. a VJP J2ᵀ·v); shaped like f(X1).</summary>
    public Tensor ApplyJacobian(IReadOnlyList<Tensor?> u) => _jacobian.Apply(u);
}
