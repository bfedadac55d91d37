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
/// captured tensors and contracted, then dropped — only one layer's Jacobian (or a slice of its output features or
/// channels, when the budget is short) exists at a time.</item>
/// </list>
/// Cost per block (dense layer, fan-in I, fan-out F): structured N1·N2·(I + O²·F), contraction N1·N2·O²·I·F.
/// </summary>
internal sealed class LayerwiseNtk(ModelPlan plan, bool structured, long memoryBudgetBytes) : INtkBlockKernel
{
    public NtkImplementation Implementation => structured ? NtkImplementation.Structured : NtkImplementation.JacobianContraction;

    public TileFeatures Prepare(Tensor x) => SignalCapture.Run(plan, x);

    public Tensor Block(TileFeatures rows, TileFeatures columns, NtkOutput output)
    {
        var a = (SignalCapture)rows;
        var b = (SignalCapture)columns;
        var (dtype, device) = Where(a);
        using var acc = new NtkAccumulator(output, a.Count, b.Count, plan.Outputs, dtype, device, memoryBudgetBytes);
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
        using var acc = new NtkAccumulator(output, a.Count, a.Count, plan.Outputs, dtype, device, memoryBudgetBytes);
        foreach (var calls in a.ByModule) AddModule(calls, calls, acc, same: true);
        return acc.Result();
    }

    private void AddModule(IReadOnlyList<ModuleCall> calls1, IReadOnlyList<ModuleCall> calls2, NtkAccumulator acc, bool same)
    {
        // A module called several times (weight sharing) has J = Σ_calls J_c, so Θ gets every pair of calls.
        foreach (var c1 in calls1)
        {
            foreach (var c2 in calls2)
            {
                if (structured && c1.Rule.TryAccumulate(c1, c2, acc)) continue;
                ContractJacobians(c1, c2, acc, same && ReferenceEquals(c1, c2));
            }
        }
    }

    /// <summary>
    /// Θ += J(c1)·J(c2)ᵀ over this module's parameters, in slices (output features or channels) small enough that
    /// both sides' Jacobian slices fit in half the memory budget.
    /// </summary>
    private void ContractJacobians(ModuleCall c1, ModuleCall c2, NtkAccumulator acc, bool sameCall)
    {
        var rule = c1.Rule;
        long slices = rule.Slices(c1), width = Math.Max(1, rule.SliceWidth(c1));
        long perSlice = (c1.Examples + (sameCall ? 0 : c2.Examples)) * plan.Outputs * width * plan.ElementSize;
        long chunk = Math.Clamp(memoryBudgetBytes / 2 / Math.Max(1, perSlice), 1, slices);
        for (long s = 0; s < slices; s += chunk)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(chunk, slices - s);
            var j1 = rule.Jacobian(c1, s, count);
            acc.AddJacobians(j1, sameCall ? j1 : rule.Jacobian(c2, s, count));
        }
    }

    private (ScalarType, Device) Where(SignalCapture capture)
    {
        var p = plan.Model.parameters().First();
        return capture.Calls.Count > 0 ? (capture.Calls[0].Signal.dtype, capture.Calls[0].Signal.device) : (p.dtype, p.device);
    }

    public long FeatureBytesPerExample =>
        plan.ElementSize * (plan.InputElements + 3 * plan.Outputs * plan.ActivationElements);

    public long BlockBytesPerPair(NtkOutput output) =>
        plan.ElementSize * (output is NtkOutput.Full or NtkOutput.DiagonalFull ? 3 * plan.Outputs * plan.Outputs : 3);
}
