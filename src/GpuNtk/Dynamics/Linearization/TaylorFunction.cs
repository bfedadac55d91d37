using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Linearization;

/// <summary>What one application of <see cref="TaylorFunction"/> needs, kept for its backward pass.</summary>
internal sealed class TaylorInputs
{
    public TaylorInputs(nn.Module<Tensor, Tensor> module, IReadOnlyList<Parameter> theta0, Tensor x, TaylorOrder order)
    {
        Module = module;
        Theta0 = theta0;
        // An alias outside the caller's dispose scope: backward may run after that scope has ended.
        X = x.detach().DetachFromDisposeScope();
        Order = order;
    }

    public nn.Module<Tensor, Tensor> Module { get; }
    public IReadOnlyList<Parameter> Theta0 { get; }
    public Tensor X { get; }
    public TaylorOrder Order { get; }
    /// <summary>δ at forward time (second order only: its backward pass needs H·δ).</summary>
    public Tensor[]? Deltas { get; set; }
}

/// <summary>
/// The Taylor model as one autograd node: inputs (<see cref="TaylorInputs"/>, δ_1 … δ_P), output
/// f(θ0) + J·δ [+ ½·δᵀHδ]. A custom node rather than the raw double-backward graph, so that gradients flow to the
/// deltas only — the frozen θ0 never accumulates .grad, and backward costs one VJP (first order) instead of a pass
/// through the whole double-backward graph. Backward is itself differentiable (double backward works), e.g. for the
/// NTK of the linearized model by vector products.
/// </summary>
internal sealed class TaylorFunction : autograd.SingleTensorFunction<TaylorFunction>
{
    private const string Key = "taylor";

    public override string Name => nameof(TaylorFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = (TaylorInputs)vars[0];
        var deltas = vars.Skip(1).Cast<Tensor>().ToArray();
        using var scope = NewDisposeScope();
        // apply() runs forward with grad mode off; the JVP needs the graph of f(θ0).
        using var grad = enable_grad();
        var f0 = inputs.Module.forward(inputs.X);
        bool second = inputs.Order == TaylorOrder.Second;
        var jvp = JacobianProducts.JvpOf(f0, inputs.Theta0, deltas, createGraph: second);
        var result = f0.detach().add(jvp.detach());
        if (second)
        {
            var curvature = JacobianProducts.SecondDirectionalOf(jvp, inputs.Theta0, deltas);
            result.add_(curvature, alpha: 0.5);
            inputs.Deltas = deltas.Select(d => d.detach().clone().DetachFromDisposeScope()).ToArray();
        }
        ctx.save_data(Key, inputs);
        return result.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var inputs = (TaylorInputs)ctx.get_data(Key);
        // Grad mode is on here exactly when the caller asked for create_graph.
        bool createGraph = is_grad_enabled();
        using var grad = enable_grad();
        var f0 = inputs.Module.forward(inputs.X);
        bool second = inputs.Order == TaylorOrder.Second;
        // d⟨w, Jδ⟩/dδ = Jᵀw; d⟨w, ½δᵀHδ⟩/dδ = Σ_a w_a H_a δ, the θ-derivative of ⟨Jᵀw, δ⟩.
        var jtw = JacobianProducts.VjpOf(f0, inputs.Theta0, gradOutput, createGraph: createGraph || second);
        if (second)
        {
            var hv = JacobianProducts.HessianVectorOf(jtw, inputs.Theta0, inputs.Deltas!, createGraph);
            for (int k = 0; k < jtw.Length; k++) jtw[k] = (createGraph ? jtw[k] : jtw[k].detach()).add(hv[k]);
        }
        var result = new List<Tensor>(jtw.Length + 1) { null! };
        result.AddRange(jtw);
        return result;
    }
}
