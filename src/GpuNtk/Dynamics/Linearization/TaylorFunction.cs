using GpuNtk.Kernels.Autograd;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Linearization;

/// <summary>The non-tensor inputs of one application of <see cref="TaylorFunction"/>: the model at θ0 and the inputs x
/// (a constant: no gradient flows to x).</summary>
internal sealed record TaylorInputs(nn.Module<Tensor, Tensor> Module, IReadOnlyList<Parameter> Theta0, Tensor X, TaylorOrder Order);

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
        bool second = inputs.Order == TaylorOrder.Second;
        ctx.save_data(Key, inputs);
        // Saved by the autograd node itself (freed with the graph, version-checked): x, which the caller's dispose
        // scope may release before backward runs, and δ, whose H·δ the second-order backward needs.
        ctx.save_for_backward(second ? [inputs.X, .. deltas] : [inputs.X]);
        // First order: f(θ0) + J·δ in one forward-mode pass where the layers allow it (no graph kept).
        if (!second && ForwardModeJvp.TryCompute(inputs.Module, inputs.Theta0, inputs.X, deltas) is { } forward)
            return forward.Output.add(forward.Jvp).MoveToOuterDisposeScope();
        // apply() runs forward with grad mode off; the double-backward JVP needs the graph of f(θ0).
        using var grad = enable_grad();
        var f0 = inputs.Module.forward(inputs.X);
        var jvp = JacobianProducts.JvpOf(f0, inputs.Theta0, deltas, createGraph: second);
        var result = f0.detach().add(jvp.detach());
        if (second)
        {
            var curvature = JacobianProducts.SecondDirectionalOf(jvp, inputs.Theta0, deltas);
            result.add_(curvature, alpha: 0.5);
        }
        return result.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var inputs = (TaylorInputs)ctx.get_data(Key);
        var saved = ctx.get_saved_variables();
        // Grad mode is on here exactly when the caller asked for create_graph.
        bool createGraph = is_grad_enabled();
        using var grad = enable_grad();
        var f0 = inputs.Module.forward(saved[0]);
        bool second = inputs.Order == TaylorOrder.Second;
        // d⟨w, Jδ⟩/dδ = Jᵀw; d⟨w, ½δᵀHδ⟩/dδ = Σ_a w_a H_a δ, the θ-derivative of ⟨Jᵀw, δ⟩.
        var jtw = JacobianProducts.VjpOf(f0, inputs.Theta0, gradOutput, createGraph: createGraph || second);
        if (second)
        {
            var hv = JacobianProducts.HessianVectorOf(jtw, inputs.Theta0, saved.Skip(1).ToArray(), createGraph);
            for (int k = 0; k < jtw.Length; k++) jtw[k] = (createGraph ? jtw[k] : jtw[k].detach()).add(hv[k]);
        }
        var result = new List<Tensor>(jtw.Length + 1) { null! };
        result.AddRange(jtw);
        return result;
    }
}
