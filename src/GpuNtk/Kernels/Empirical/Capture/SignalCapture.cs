using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The inputs and backprop signals of every parameterized module call for a tile of N examples, from ONE forward pass
/// of the N examples and O backward passes through its retained graph: pass a seeds the one-hot cotangent e_a on every
/// example, and one <c>autograd.grad</c> returns ∂f_a(x_i)/∂z for every hooked output z at once. (Replicating the
/// batch O times and backpropagating once does the same backward work but O times the forward work — a third of the
/// whole capture on convolutional networks.)
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
        foreach (var (m, _) in plan.Modules)
        {
            var hook = ((nn.Module<Tensor, Tensor>)m).register_forward_hook((mod, input, output) =>
            {
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
        try { f = plan.Model.call(x); }
        finally { foreach (var remove in removers) remove(); }

        if (f.dim() == 0 || f.shape[0] != n || f.numel() != n * o)
            throw new InvalidOperationException($"capture pass: the model returned [{string.Join(", ", f.shape)}] for {n} " +
                                                $"rows; expected [{n}, {o}] (one row of {o} outputs per example)");
        foreach (var c in raw)
        {
            long inRows = c.Input.dim() == 0 ? 0 : c.Input.shape[0];
            if (inRows != n || c.Output.dim() == 0 || c.Output.shape[0] != n)
                throw new ArgumentException($"module '{c.Module.GetName()}' ({c.Module.GetType().Name}) was called on " +
                                            $"[{string.Join(", ", c.Input.shape)}] → [{string.Join(", ", c.Output.shape)}], not " +
                                            "one row per example; the structured and Jacobian-contraction methods need per-example " +
                                            "rows: use NtkImplementation.VectorProducts for this model");
        }

        var outputs = f.reshape(n, o);
        var targets = raw.Select(c => c.Output).ToArray();
        var signals = new Tensor?[raw.Count]; // [N, O, …output shape], filled one output a per backward pass
        var eye = torch.eye(o, dtype: f.dtype, device: f.device);
        for (long a = 0; a < o; a++)
        {
            using var pass = NewDisposeScope();
            var seed = eye.narrow(0, a, 1).expand(n, o);
            var grads = ParameterGradients.OrNull([outputs], targets, [seed], retainGraph: a + 1 < o);
            for (int k = 0; k < raw.Count; k++)
            {
                if (grads[k] is not { } g) continue; // this call does not reach output a
                if (signals[k] is null)
                {
                    signals[k] = zeros([n, o, .. g.shape[1..]], g.dtype, g.device);
                    signals[k]!.MoveToOtherDisposeScope(scope);
                }
                signals[k]!.select(1, a).copy_(g);
            }
        }

        var calls = new List<ModuleCall>();
        var owned = new List<Tensor>();
        for (int k = 0; k < raw.Count; k++)
        {
            if (signals[k] is not { } signal) continue; // this call does not reach the output: no contribution
            var (m, rule, input, _) = raw[k];
            var unique = input.alias();
            unique.DetachFromDisposeScope();
            signal.DetachFromDisposeScope();
            owned.Add(unique);
            owned.Add(signal);
            calls.Add(new ModuleCall(m, rule, unique, signal));
        }
        return new SignalCapture(n, calls, owned);
    }
}
