using GpuNtk.Kernels.Autograd;
using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// What a one-example probe of the model found: the number of outputs, the modules that own trainable parameters
/// (with their rules), whether forward hooks see every parameter, and per-example
/// memory figures for sizing tiles. Built once per <see cref="EmpiricalNtk"/> call.
/// </summary>
internal sealed class ModelPlan
{
    private ModelPlan(nn.Module<Tensor, Tensor> model, long outputs, IReadOnlyList<(nn.Module Module, ILayerNtkRule Rule)> modules,
        string? unsupportedReason, long elementSize,
        long activationElements, long inputElements, long parameterCount)
    {
        Model = model;
        Outputs = outputs;
        Modules = modules;
        UnsupportedReason = unsupportedReason;
        ElementSize = elementSize;
        ActivationElements = activationElements;
        InputElements = inputElements;
        ParameterCount = parameterCount;
    }

    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>Outputs per example (O).</summary>
    public long Outputs { get; }

    /// <summary>Modules owning trainable parameters directly, with the rule for each.</summary>
    public IReadOnlyList<(nn.Module Module, ILayerNtkRule Rule)> Modules { get; }

    /// <summary>Why hooks cannot capture every parameter (structured and Jacobian contraction then do not apply), or null.</summary>
    public string? UnsupportedReason { get; }

    public bool HooksSeeAllParameters => UnsupportedReason is null;

    public long ElementSize { get; }

    /// <summary>Σ over hooked calls of the output's elements, per example.</summary>
    public long ActivationElements { get; }

    /// <summary>Σ over hooked calls of the input's elements, per example.</summary>
    public long InputElements { get; }

    public long ParameterCount { get; }

    /// <summary>Trainable parameters of <paramref name="module"/> itself (not of its children).</summary>
    public static IReadOnlyList<Tensor> OwnParameters(nn.Module module) =>
        module.named_parameters(recurse: false).Select(p => (Tensor)p.parameter).Where(p => p.requires_grad).ToList();

    /// <summary>Probes <paramref name="model"/> with the first example of <paramref name="x"/>; rules from <paramref name="rules"/> (null: the built-in ones).</summary>
    public static ModelPlan Build(nn.Module<Tensor, Tensor> model, Tensor x, NtkRuleRegistry? rules = null)
    {
        rules ??= NtkRuleRegistry.CreateDefault();
        var trainable = model.parameters().Where(p => p.requires_grad).ToList();
        if (trainable.Count == 0)
            throw new ArgumentException("the model has no parameters with requires_grad = true, so its NTK is zero; " +
                                        "enable gradients on the parameters to differentiate", nameof(model));
        var owners = model.modules().Prepend(model).Distinct()
            .Where(m => OwnParameters(m).Count > 0).ToList();

        string? reason = null;
        var hookable = new List<(nn.Module Module, ILayerNtkRule Rule)>();
        foreach (var m in owners)
        {
            if (m is nn.Module<Tensor, Tensor>) hookable.Add((m, rules.For(m)));
            else reason ??= $"module '{m.GetName()}' ({m.GetType().Name}) owns parameters but is not a Module<Tensor, Tensor>, so no forward hook can see its calls";
        }

        using var scope = NewDisposeScope();
        var one = x.narrow(0, 0, 1);
        var calls = new Dictionary<nn.Module, int>(ReferenceEqualityComparer.Instance);
        long activation = 0, input = 0;
        var handles = new List<Action>();
        Tensor f;
        using (no_grad())
        {
            foreach (var (m, _) in hookable)
            {
                var hm = (nn.Module<Tensor, Tensor>)m;
                var h = hm.register_forward_hook((mod, i, o) =>
                {
                    calls[mod] = calls.GetValueOrDefault(mod) + 1;
                    activation += o.numel() / Math.Max(1, o.shape.Length == 0 ? 1 : o.shape[0]);
                    input += i.numel() / Math.Max(1, i.shape.Length == 0 ? 1 : i.shape[0]);
                    return o;
                });
                handles.Add(h.remove);
            }
            try { f = model.call(one); }
            finally { foreach (var remove in handles) remove(); }
        }
        if (f.dim() == 0 || f.shape[0] != 1)
            throw new ArgumentException($"the model maps a batch of 1 example to shape [{string.Join(", ", f.shape)}]; " +
                                        "the NTK needs outputs [N, …] with one row per example", nameof(model));
        long outputs = f.numel();

        // Parameters of modules whose hooks never fired: harmless when unused, fatal to hook-based methods otherwise
        // (a module that calls a child's forward() directly instead of call() bypasses the child's hooks).
        var silent = hookable.Where(e => !calls.ContainsKey(e.Module)).ToList();
        if (reason is null && silent.Count > 0)
        {
            using var grad = enable_grad();
            var fg = model.call(one);
            var ps = silent.SelectMany(e => OwnParameters(e.Module)).ToArray();
            var gs = ParameterGradients.OrNull([fg.sum()], ps);
            int used = Enumerable.Range(0, ps.Length).FirstOrDefault(k => gs[k] is not null, -1);
            if (used >= 0)
            {
                var m = silent.First(e => OwnParameters(e.Module).Any(p => ReferenceEquals(p, ps[used]))).Module;
                reason = $"module '{m.GetName()}' ({m.GetType().Name}) affects the output but its forward hooks never fire " +
                         "(its parent calls forward() instead of call())";
            }
        }
        hookable = hookable.Where(e => calls.ContainsKey(e.Module)).ToList();

        return new ModelPlan(model, outputs, hookable, reason,
            x.element_size(), activation, input, trainable.Sum(p => p.numel()));
    }
}
