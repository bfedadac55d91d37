using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The inputs and backprop signals of every parameterized module call for a tile of N examples, from ONE forward and
/// ONE backward pass: the batch is replicated O times (example-major, row i·O + a), each replica is seeded with the
/// one-hot cotangent e_a, and a single <c>autograd.grad</c> returns ∂f_a(x_i)/∂z for every hooked output z at once.
/// Replication happens after the first layer when <see cref="ModelPlan.ReplicateAfter"/> allows it, so the (often
/// widest) first layer runs once per example.
/// </summary>
internal sealed class SignalCapture : TileFeatures
{
    private readonly List<Tensor> _owned;

    private SignalCapture(long count, IReadOnlyList<ModuleCall> calls, List<Tensor> owned) : base(count)
    {
        Calls = calls;
        _owned = owned;
    }

    /// <summary>Hooked calls in forward order; calls that cannot reach the output are left out.</summary>
    public IReadOnlyList<ModuleCall> Calls { get; }

    /// <summary>Calls grouped by module, in forward order of the first call.</summary>
    public IEnumerable<IReadOnlyList<ModuleCall>> ByModule =>
        Calls.GroupBy(c => c.Module, ReferenceEqualityComparer.Instance).Select(g => (IReadOnlyList<ModuleCall>)g.ToList());

    public override void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }

    public static SignalCapture Run(ModelPlan plan, Tensor x)
    {
        long n = x.shape[0], o = plan.Outputs;
        var raw = new List<(nn.Module Module, ILayerNtkRule Rule, Tensor Input, Tensor Output)>();
        try
        {
            return Run(plan, x, n, o, raw);
        }
        finally
        {
            foreach (var c in raw)
            {
                c.Input.Dispose();
                c.Output.Dispose();
            }
        }
    }

    private static SignalCapture Run(ModelPlan plan, Tensor x, long n, long o,
        List<(nn.Module Module, ILayerNtkRule Rule, Tensor Input, Tensor Output)> raw)
    {
        var rules = new Dictionary<nn.Module, ILayerNtkRule>(ReferenceEqualityComparer.Instance);
        foreach (var (m, rule) in plan.Modules) rules[m] = rule;
        var removers = new List<Action>();
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        bool replicated = plan.ReplicateAfter is null;
        foreach (var (m, _) in plan.Modules)
        {
            var hook = ((nn.Module<Tensor, Tensor>)m).register_forward_hook((mod, input, output) =>
            {
                if (!replicated && ReferenceEquals(mod, plan.ReplicateAfter))
                {
                    output = Replicate(output, o);
                    replicated = true;
                }
                // Modules dispose the tensors they pass between layers (Sequential, dispose scopes inside forward):
                // keep our own handles outside every scope (the output is the gradient target) and hand an alias on.
                var kept = input.detach();
                kept.DetachFromDisposeScope();
                output.DetachFromDisposeScope();
                raw.Add((mod, rules[mod], kept, output));
                return output.alias();
            });
            removers.Add(hook.remove);
        }
        Tensor f;
        try { f = plan.Model.call(plan.ReplicateAfter is null ? Replicate(x, o) : x); }
        finally { foreach (var remove in removers) remove(); }

        if (f.dim() == 0 || f.shape[0] != n * o || f.numel() != n * o * o)
            throw new InvalidOperationException($"capture pass: the model returned [{string.Join(", ", f.shape)}] for {n * o} " +
                                                $"replicated rows; expected [{n * o}, {o}] (one row of {o} outputs per example)");
        foreach (var c in raw)
        {
            long inRows = c.Input.dim() == 0 ? 0 : c.Input.shape[0];
            bool inputOk = inRows == n * o || (inRows == n && ReferenceEquals(c.Module, plan.ReplicateAfter));
            if (!inputOk || c.Output.dim() == 0 || c.Output.shape[0] != n * o)
                throw new ArgumentException($"module '{c.Module.GetName()}' ({c.Module.GetType().Name}) was called on " +
                                            $"[{string.Join(", ", c.Input.shape)}] → [{string.Join(", ", c.Output.shape)}], not " +
                                            "one row per example; the structured and Jacobian-contraction methods need per-example " +
                                            "rows: use NtkImplementation.VectorProducts for this model");
        }

        var seeds = eye(o, dtype: f.dtype, device: f.device).repeat(n, 1);
        var targets = raw.Select(c => c.Output).ToArray();
        var signals = autograd.grad([f.reshape(n * o, o)], targets, [seeds], retain_graph: false, allow_unused: true);

        var calls = new List<ModuleCall>();
        var owned = new List<Tensor>();
        for (int k = 0; k < raw.Count; k++)
        {
            var g = signals[k];
            if (g is null) continue; // this call does not reach the output: no contribution
            var (m, rule, input, _) = raw[k];
            var unique = input.shape[0] == n ? input.alias() : input.unflatten(0, [n, o]).select(1, 0).contiguous();
            var signal = g.unflatten(0, [n, o]);
            unique.DetachFromDisposeScope();
            signal.DetachFromDisposeScope();
            owned.Add(unique);
            owned.Add(signal);
            calls.Add(new ModuleCall(m, rule, unique, signal));
        }
        return new SignalCapture(n, calls, owned);
    }

    /// <summary>Rows i·O + a = x_i for a = 0…O−1.</summary>
    private static Tensor Replicate(Tensor x, long o) =>
        o == 1 ? x : x.unsqueeze(1).expand([x.shape[0], o, .. x.shape[1..]]).reshape([x.shape[0] * o, .. x.shape[1..]]);
}
