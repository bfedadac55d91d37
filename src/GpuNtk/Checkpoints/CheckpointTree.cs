using System.Globalization;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Everything a <c>torch.save</c> file holds, as a tree of <see cref="CheckpointNode"/>s: usually a state_dict, or a
/// dict holding one (<c>state_dict</c>, <c>model</c>, …) beside optimizer state, epochs, learning rates and names.
/// The tree owns its tensors: dispose it when done (take a <see cref="StateDict"/> out first to keep the weights).
/// </summary>
public sealed class CheckpointTree : IDisposable
{
    /// <summary>Keys under which training scripts commonly store the model's state_dict, in the order they are tried.</summary>
    public static readonly IReadOnlyList<string> StateDictKeys =
        ["state_dict", "model_state_dict", "model", "module", "net", "network", "model_state", "weights", "params", "ema"];

    private readonly IReadOnlyList<Tensor> _tensors;

    internal CheckpointTree(CheckpointNode root, string source, IReadOnlyList<Tensor> tensors)
    {
        Root = root;
        Source = source;
        _tensors = tensors;
    }

    public CheckpointNode Root { get; }

    /// <summary>The file the tree was read from (or the label given for a stream).</summary>
    public string Source { get; }

    /// <summary>Every tensor with its path (dict keys and list indices joined by dots), depth first in file order.</summary>
    public IEnumerable<(string Path, CheckpointTensor Tensor)> Tensors() =>
        Leaves().Where(l => l.Value is CheckpointTensor).Select(l => (l.Path, (CheckpointTensor)l.Value));

    /// <summary>Every leaf (tensor, scalar, string, bytes, empty container) with its path, depth first in file order.</summary>
    public IEnumerable<(string Path, CheckpointNode Value)> Leaves() => Leaves(Root, "");

    /// <summary>
    /// Finds the state_dict: the root when it is a dict of tensors, else the first dict of tensors under one of
    /// <see cref="StateDictKeys"/> (one or two levels down), else the only dict of tensors among the root's values.
    /// Returns null when there is none.
    /// </summary>
    public (string Path, CheckpointDict Dict)? FindStateDict()
    {
        if (Root is not CheckpointDict root) return null;
        if (root.IsStateDict) return ("", root);
        foreach (var key in StateDictKeys)
        {
            if (!root.TryGetValue(key, out var v) || v is not CheckpointDict d) continue;
            if (d.IsStateDict) return (key, d);
            foreach (var inner in StateDictKeys)
                if (d.TryGetValue(inner, out var w) && w is CheckpointDict e && e.IsStateDict) return (key + "." + inner, e);
        }
        var candidates = root.Entries.Where(e => e.Value is CheckpointDict { IsStateDict: true }).ToList();
        return candidates.Count == 1 ? (CheckpointDict.KeyText(candidates[0].Key), (CheckpointDict)candidates[0].Value) : null;
    }

    /// <summary>
    /// The state_dict (see <see cref="FindStateDict"/>) as a <see cref="StateDict"/> with its own tensor handles, which
    /// outlive this tree and still share memory with each other where the file shared storages.
    /// </summary>
    /// <exception cref="CheckpointFormatException">There is no dict of tensors where a state_dict is expected.</exception>
    public StateDict ToStateDict()
    {
        var found = FindStateDict() ?? throw new CheckpointFormatException(
            $"{Source}: no state_dict found. The file holds {Root.Describe()}" +
            (Root is CheckpointDict d ? $" with keys {string.Join(", ", d.Entries.Take(12).Select(e => CheckpointDict.KeyText(e.Key)))}" : "") +
            $". Expected a dict of tensors, or a dict holding one under one of: {string.Join(", ", StateDictKeys)}. " +
            "Remedy: in Python, torch.save(model.state_dict(), path).");
        var result = new StateDict();
        foreach (var (key, value) in found.Dict.Entries)
            result.Add(((CheckpointString)key).Value, ((CheckpointTensor)value).Tensor.alias());
        return result;
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
    }

    private static IEnumerable<(string Path, CheckpointNode Value)> Leaves(CheckpointNode node, string path)
    {
        switch (node)
        {
            case CheckpointDict { Count: > 0 } d:
                foreach (var (k, v) in d.Entries)
                    foreach (var leaf in Leaves(v, Join(path, CheckpointDict.KeyText(k)))) yield return leaf;
                break;
            case CheckpointList { Items.Count: > 0 } l:
                for (int i = 0; i < l.Items.Count; i++)
                    foreach (var leaf in Leaves(l.Items[i], Join(path, i.ToString(CultureInfo.InvariantCulture)))) yield return leaf;
                break;
            default:
                yield return (path, node);
                break;
        }
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;
}
