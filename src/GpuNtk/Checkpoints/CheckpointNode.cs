using System.Globalization;
using System.Numerics;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// One value of a checkpoint read back as a tree: a dict, a list (or tuple), a tensor, a scalar, a string or bytes.
/// Nodes reached twice in the file (tied weights, repeated values) are the same object.
/// </summary>
public abstract class CheckpointNode
{
    private protected CheckpointNode() { }

    /// <summary>A short description for listings: the value of a scalar or string, the shape of a tensor, ….</summary>
    public abstract string Describe();

    public override string ToString() => Describe();
}

/// <summary>A Python <c>dict</c> or <c>OrderedDict</c>, in insertion order. Keys are usually strings, sometimes ints.</summary>
public sealed class CheckpointDict(IReadOnlyList<KeyValuePair<CheckpointNode, CheckpointNode>> entries) : CheckpointNode
{
    public IReadOnlyList<KeyValuePair<CheckpointNode, CheckpointNode>> Entries { get; } = entries;

    public int Count => Entries.Count;

    /// <summary>The value under a string key; throws <see cref="KeyNotFoundException"/> naming the keys present.</summary>
    public CheckpointNode this[string key] => TryGetValue(key, out var v)
        ? v
        : throw new KeyNotFoundException($"no key '{key}'; keys: {string.Join(", ", Entries.Select(e => KeyText(e.Key)))}");

    public bool TryGetValue(string key, out CheckpointNode value)
    {
        foreach (var (k, v) in Entries)
            if (k is CheckpointString s && s.Value == key) { value = v; return true; }
        value = null!;
        return false;
    }

    /// <summary>True when every value is a tensor and every key a string: the shape of a <c>state_dict</c>.</summary>
    public bool IsStateDict => Count > 0 && Entries.All(e => e.Key is CheckpointString && e.Value is CheckpointTensor);

    /// <summary>A key as it appears in paths: a string as is, an int in decimal.</summary>
    public static string KeyText(CheckpointNode key) => key switch
    {
        CheckpointString s => s.Value,
        CheckpointScalar c => c.Describe(),
        _ => key.Describe(),
    };

    public override string Describe() => $"dict({Count})";
}

/// <summary>A Python <c>list</c> or <c>tuple</c> (also sets, as lists).</summary>
public sealed class CheckpointList(IReadOnlyList<CheckpointNode> items, bool isTuple) : CheckpointNode
{
    public IReadOnlyList<CheckpointNode> Items { get; } = items;
    public bool IsTuple { get; } = isTuple;

    public override string Describe() => $"{(IsTuple ? "tuple" : "list")}({Items.Count})";
}

/// <summary>
/// A tensor, on the CPU, as a view of its storage: tensors that share a storage in the file share memory here.
/// The tensor belongs to the CheckpointTree and is disposed with it.
/// </summary>
public sealed class CheckpointTensor(Tensor tensor, string storageKey) : CheckpointNode
{
    public Tensor Tensor { get; } = tensor;

    /// <summary>The storage's key in the file (<c>data/&lt;key&gt;</c>); equal keys mean shared memory.</summary>
    public string StorageKey { get; } = storageKey;

    public CheckpointDType DType => CheckpointDType.Of(Tensor.dtype);

    public override string Describe() => $"{DType.Name}[{string.Join(", ", Tensor.shape)}]";
}

/// <summary>None, a bool, an int (<see cref="long"/>, or <see cref="BigInteger"/> beyond 64 bits) or a float.</summary>
public sealed class CheckpointScalar(object? value) : CheckpointNode
{
    public object? Value { get; } = value;

    public bool IsNone => Value is null;

    public override string Describe() => Value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Value.ToString() ?? "",
    };
}

/// <summary>A Python <c>str</c>.</summary>
public sealed class CheckpointString(string value) : CheckpointNode
{
    public string Value { get; } = value;

    public override string Describe() => "'" + Value + "'";
}

/// <summary>A Python <c>bytes</c> value.</summary>
public sealed class CheckpointBytes(byte[] value) : CheckpointNode
{
    public byte[] Value { get; } = value;

    public override string Describe() => $"bytes({Value.Length})";
}
