using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Structured derivatives and Jacobian contraction, which share their first step: one capture pass per tile
/// (<see cref="SignalCapture"/>: layer inputs by forward hooks, backprop signals of all N·O outputs from one batched
/// autograd call). Then, layer by layer:
/// <list type="bullet">
/// <item><b>Structured</b>: each layer's rule adds its contribution in factored form (dense: Gram of inputs ∘ Gram of
/// signals) — no Jacobian; layers without a structured rule fall back to the Jacobian contraction below.</item>
/// <item><b>Jacobian contraction</b>: each layer's per-example Jacobian <c>[N, O, Q_l]</c> is formed from the
/// captured tensors and contracted, then dropped — only one layer's Jacobian block exists at a time.</item>
/// </list>
/// Cost per block (dense layer, fan-in I, fan-out F): structured N1·N2·(I + O²·F), contraction N1·N2·O²·I·F.
/// </summary>
internal sealed class LayerwiseNtk(ModelPlan plan, bool structured) : INtkBlockKernel
{
    public NtkImplementation Implementation => structured ? NtkImplementation.Structured : NtkImplementation.JacobianContraction;

    public TileFeatures Prepare(Tensor x) => SignalCapture.Run(plan, x);

    public Tensor Block(TileFeatures rows, TileFeatures columns, NtkOutput output)
    {
        var a = (SignalCapture)rows;
        var b = (SignalCapture)columns;
        var (dtype, device) = Where(a);
        using var acc = new NtkAccumulator(output, a.Count, b.Count, plan.Outputs, dtype, device);
        var byModule = new Dictionary<nn.Module, IReadOnlyList<ModuleCall>>(ReferenceEqualityComparer.Instance);
        foreach (var calls in b.ByModule) byModule[calls[0].Module] = calls;
        foreach (var calls1 in a.ByModule)
        {
            if (!byModule.TryGetValue(calls1[0].Module, out var calls2)) continue;
            AddModule(calls1, calls2, acc, ReferenceEquals(a, b));
        }
        return acc.Result();
    }

    public Tensor Diagonal(TileFeatures tile, NtkOutput output)
    {
        var a = (SignalCapture)tile;
        var (dtype, device) = Where(a);
        using var acc = new NtkAccumulator(output, a.Count, a.Count, plan.Outputs, dtype, device);
        foreach (var calls in a.ByModule) AddModule(calls, calls, acc, same: true);
        return acc.Result();
    }

    private void AddModule(IReadOnlyList<ModuleCall> calls1, IReadOnlyList<ModuleCall> calls2, NtkAccumulator acc, bool same)
    {
        // A module called several times (weight sharing) has J = Σ_calls J_c, so Θ gets every pair of calls.
        using var scope = NewDisposeScope();
        var jacobians = new Dictionary<ModuleCall, Tensor>(ReferenceEqualityComparer.Instance);
        Tensor J(ModuleCall c)
        {
            if (!jacobians.TryGetValue(c, out var j)) jacobians[c] = j = c.Rule.Jacobian(c);
            return j;
        }
        foreach (var c1 in calls1)
        {
            foreach (var c2 in calls2)
            {
                if (structured && c1.Rule.TryAccumulate(c1, c2, acc)) continue;
                acc.AddJacobians(J(c1), same && ReferenceEquals(c1, c2) ? J(c1) : J(c2));
            }
            // Jacobian contraction keeps one layer's Jacobians at a time: drop the row call's once its pairs are done.
            if (!same && jacobians.Remove(c1, out var done)) done.Dispose();
        }
    }

    private (ScalarType, Device) Where(SignalCapture capture)
    {
        var p = plan.Model.parameters().First();
        return capture.Calls.Count > 0 ? (capture.Calls[0].Signal.dtype, capture.Calls[0].Signal.device) : (p.dtype, p.device);
    }

    public long FeatureBytesPerExample =>
        plan.ElementSize * (plan.InputElements + 3 * plan.Outputs * plan.ActivationElements
                            + (structured ? 0 : 2 * plan.Outputs * plan.MaxJacobianWidth));

    public long BlockBytesPerPair(NtkOutput output) =>
        plan.ElementSize * (output is NtkOutput.Full or NtkOutput.DiagonalFull ? 3 * plan.Outputs * plan.Outputs : 3);
}
