namespace GpuNtk.Networks.StateDicts;

/// <summary>
/// How checkpoint tensor names map onto a <see cref="Network"/>'s parameter names (<c>layers.{i}.weight</c>, …).
/// <list type="bullet">
/// <item><see cref="Identity"/>: names are the network's own (a checkpoint GpuNtk wrote).</item>
/// <item><see cref="Sequential"/>: a PyTorch <c>nn.Sequential</c> of <c>Linear</c>/<c>Conv2d</c> and parameter-free
/// layers (<c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>, …, possibly under a prefix such as <c>model.</c>): the k-th
/// module with parameters maps onto the network's k-th dense/conv layer, in forward order.</item>
/// <item><see cref="Auto"/>: identity when the checkpoint has every parameter name (also after removing a
/// DataParallel <c>module.</c> prefix), otherwise sequential.</item>
/// </list>
/// Shapes are not checked here but by <see cref="StateDictLoader"/>, which reports every mismatch at once.
/// </summary>
public abstract class StateDictMapping
{
    public static StateDictMapping Identity { get; } = new IdentityMapping("");
    public static StateDictMapping Sequential { get; } = new SequentialMapping();
    public static StateDictMapping Auto { get; } = new AutoMapping();

    /// <summary>An explicit map from checkpoint names to parameter names; unlisted checkpoint names are unexpected.</summary>
    public static StateDictMapping FromNames(IReadOnlyDictionary<string, string> checkpointToNetwork) => new ExplicitMapping(checkpointToNetwork);

    /// <summary>A name for messages.</summary>
    public abstract string Name { get; }

    /// <summary>The concrete mapping to use for these names: itself, except that <see cref="Auto"/> picks one.</summary>
    public virtual StateDictMapping Choose(Network network, IReadOnlyList<string> checkpointKeys) => this;

    /// <summary>Checkpoint name → network parameter name for every checkpoint name this mapping places.</summary>
    /// <exception cref="ArgumentException">The mapping cannot apply (e.g. layer counts differ); the message lists both sides.</exception>
    public abstract IReadOnlyDictionary<string, string> Resolve(Network network, IReadOnlyList<string> checkpointKeys);

    /// <summary>The network's dense/conv layers with their module names (<c>layers.1</c>, …), in forward order.</summary>
    internal static IReadOnlyList<(string Name, IParameterizedLayer Layer)> ParameterizedModules(Network network) =>
        network.named_modules().Where(m => m.module is IParameterizedLayer)
            .Select(m => (m.name, (IParameterizedLayer)m.module)).ToList();

    private sealed class IdentityMapping(string stripPrefix) : StateDictMapping
    {
        public override string Name => stripPrefix.Length == 0 ? "identity" : $"identity after removing '{stripPrefix}'";

        public override IReadOnlyDictionary<string, string> Resolve(Network network, IReadOnlyList<string> checkpointKeys) =>
            checkpointKeys.Where(k => k.StartsWith(stripPrefix, StringComparison.Ordinal))
                .ToDictionary(k => k, k => k[stripPrefix.Length..], StringComparer.Ordinal);
    }

    private sealed class ExplicitMapping(IReadOnlyDictionary<string, string> map) : StateDictMapping
    {
        public override string Name => "explicit";

        public override IReadOnlyDictionary<string, string> Resolve(Network network, IReadOnlyList<string> checkpointKeys) =>
            checkpointKeys.Where(map.ContainsKey).ToDictionary(k => k, k => map[k], StringComparer.Ordinal);
    }

    private sealed class AutoMapping : StateDictMapping
    {
        public override string Name => "auto";

        public override StateDictMapping Choose(Network network, IReadOnlyList<string> checkpointKeys)
        {
            var names = network.named_parameters().Select(p => p.name).ToList();
            var keys = checkpointKeys.ToHashSet(StringComparer.Ordinal);
            if (names.All(keys.Contains)) return Identity;
            if (names.All(n => keys.Contains("module." + n))) return new IdentityMapping("module.");
            return Sequential;
        }

        public override IReadOnlyDictionary<string, string> Resolve(Network network, IReadOnlyList<string> checkpointKeys) =>
            Choose(network, checkpointKeys).Resolve(network, checkpointKeys);
    }

    private sealed class SequentialMapping : StateDictMapping
    {
        public override string Name => "nn.Sequential";

        public override IReadOnlyDictionary<string, string> Resolve(Network network, IReadOnlyList<string> checkpointKeys)
        {
            if (network.Spec.Parameterization != Parameterization.Standard)
                throw new ArgumentException(
                    $"a PyTorch nn.Sequential computes W·x + b, but network {network.Spec} uses param={network.Spec.Parameterization.ToName()}; " +
                    "build it with param=standard to load PyTorch weights");
            // Modules with parameters, in state_dict (= registration = forward) order.
            var modules = new List<string>();
            foreach (var key in checkpointKeys)
            {
                string? module = ModuleOf(key);
                if (module is not null && !modules.Contains(module)) modules.Add(module);
            }
            var layers = ParameterizedModules(network);
            if (modules.Count != layers.Count)
                throw new ArgumentException(
                    $"the checkpoint has {modules.Count} modules with weights ({string.Join(", ", modules)}) but network " +
                    $"{network.Spec} has {layers.Count} dense/conv layers ({string.Join(", ", layers.Select(l => l.Name))}); " +
                    "the architectures differ (check depth/width/channels)");
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var key in checkpointKeys)
            {
                string? module = ModuleOf(key);
                if (module is null) continue;
                map[key] = layers[modules.IndexOf(module)].Name + key[module.Length..];
            }
            return map;
        }

        /// <summary>The module path of a <c>….weight</c> / <c>….bias</c> key, or null for other keys (buffers).</summary>
        private static string? ModuleOf(string key)
        {
            foreach (var suffix in (ReadOnlySpan<string>)[".weight", ".bias"])
                if (key.EndsWith(suffix, StringComparison.Ordinal) && key.Length > suffix.Length) return key[..^suffix.Length];
            return null;
        }
    }
}
