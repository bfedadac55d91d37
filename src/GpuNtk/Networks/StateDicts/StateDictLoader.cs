using GpuNtk.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks.StateDicts;

/// <summary>What <see cref="StateDictLoader"/>'s <c>LoadInto</c> did: checkpoint name → parameter name for each loaded tensor,
/// (non-strict mode) the parameters left untouched and the checkpoint tensors not used, the name mapping chosen, and
/// the tensors whose dtype was converted (as <c>name: float32 → float64</c>).</summary>
public sealed record StateDictLoadResult(
    IReadOnlyDictionary<string, string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    string Mapping,
    IReadOnlyList<string> Converted);

/// <summary>
/// A state_dict does not fit a network; <see cref="Problems"/> lists every mismatch (also in the message). An
/// <see cref="ArgumentException"/>: the checkpoint and the architecture given do not go together.
/// </summary>
public sealed class StateDictMismatchException(string message, IReadOnlyList<string> problems) : ArgumentException(message)
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// Copies a state_dict into a <see cref="Network"/>'s parameters, all or nothing: every check (names, shapes, dtypes)
/// runs before the first copy, and one <see cref="StateDictMismatchException"/> lists all problems.
/// </summary>
public static class StateDictLoader
{
    /// <summary>
    /// Loads the state_dict of the checkpoint file at <paramref name="path"/> (any format
    /// <see cref="CheckpointFiles.LoadStateDict"/> reads) into <paramref name="network"/>: names map automatically
    /// (GpuNtk's own names, or a PyTorch <c>nn.Sequential</c> onto a standard-parameterization FCN/CNN), every mismatch
    /// is reported at once.
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file cannot be read.</exception>
    /// <exception cref="StateDictMismatchException">The weights do not fit the network; nothing was loaded.</exception>
    public static StateDictLoadResult LoadInto(Network network, string path, bool strict = true, bool convertDType = false,
        StateDictMapping? mapping = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        using var stateDict = CheckpointFiles.LoadStateDict(path);
        return LoadInto(network, stateDict, strict, mapping, convertDType, path);
    }

    /// <summary>
    /// Loads <paramref name="stateDict"/> into <paramref name="network"/>.
    /// </summary>
    /// <param name="network">The destination; tensors are copied to its device.</param>
    /// <param name="stateDict">Named tensors (e.g. from <see cref="CheckpointFiles.LoadStateDict"/>).</param>
    /// <param name="strict">When true, a network parameter without a tensor, or a tensor without a parameter, is an
    /// error; when false they are reported in the result. Shape mismatches are always errors.</param>
    /// <param name="mapping">How names map (default <see cref="StateDictMapping.Auto"/>).</param>
    /// <param name="convertDType">When true, tensors are converted to the parameters' dtype; when false a dtype
    /// mismatch is an error.</param>
    /// <param name="source">Names the checkpoint in messages.</param>
    /// <exception cref="StateDictMismatchException">Anything does not fit; nothing was copied.</exception>
    public static StateDictLoadResult LoadInto(Network network, IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true,
        StateDictMapping? mapping = null, bool convertDType = false, string source = "state_dict")
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stateDict);
        var keys = stateDict.Keys.ToList();
        mapping = (mapping ?? StateDictMapping.Auto).Choose(network, keys);
        var parameters = network.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var problems = new List<string>();
        IReadOnlyDictionary<string, string> map;
        try { map = mapping.Resolve(network, keys); }
        catch (ArgumentException e)
        {
            throw Mismatch(source, network, mapping, [$"name mapping: {e.Message}"]);
        }

        var loaded = new Dictionary<string, string>(StringComparer.Ordinal);
        var converted = new List<string>();
        var unexpected = new List<string>();
        var targets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (!map.TryGetValue(key, out var target) || !parameters.TryGetValue(target, out var parameter))
            {
                unexpected.Add(key);
                if (strict) problems.Add($"unexpected: {key} {Describe(stateDict[key])}" + (map.TryGetValue(key, out var t) ? $" (mapped to {t}, which the network lacks)" : ""));
                continue;
            }
            if (!targets.Add(target))
            {
                problems.Add($"duplicate: {key} maps to {target}, which another tensor already fills");
                continue;
            }
            var tensor = stateDict[key];
            string arrow = key == target ? key : $"{key} → {target}";
            if (!tensor.shape.SequenceEqual(parameter.shape))
                problems.Add($"shape mismatch: {arrow}: checkpoint [{string.Join(", ", tensor.shape)}], network [{string.Join(", ", parameter.shape)}]");
            else if (tensor.dtype != parameter.dtype && !convertDType)
                problems.Add($"dtype mismatch: {arrow}: checkpoint {Name(tensor.dtype)}, network {Name(parameter.dtype)} " +
                             "(allow conversion, or build the network in the checkpoint's dtype)");
            else
            {
                loaded[key] = target;
                if (tensor.dtype != parameter.dtype) converted.Add($"{key}: {Name(tensor.dtype)} → {Name(parameter.dtype)}");
            }
        }
        var missing = parameters.Keys.Where(n => !targets.Contains(n)).ToList();
        if (strict) problems.AddRange(missing.Select(n => $"missing: {n} {Describe(parameters[n])}"));
        if (problems.Count > 0) throw Mismatch(source, network, mapping, problems);

        using (no_grad())
        {
            foreach (var (key, target) in loaded)
            {
                using var scope = NewDisposeScope();
                var parameter = parameters[target];
                parameter.copy_(stateDict[key].to(parameter.device));
            }
        }
        return new StateDictLoadResult(loaded, missing, unexpected, mapping.Name, converted);
    }

    private static StateDictMismatchException Mismatch(string source, Network network, StateDictMapping mapping, List<string> problems) =>
        new($"{source} does not fit network {network.Spec} ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}, " +
            $"name mapping {mapping.Name}):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems), problems);

    private static string Describe(Tensor t) => $"{Name(t.dtype)}[{string.Join(", ", t.shape)}]";

    private static string Name(ScalarType t) => CheckpointDType.All.FirstOrDefault(d => d.ScalarType == t)?.Name ?? t.ToString();
}
