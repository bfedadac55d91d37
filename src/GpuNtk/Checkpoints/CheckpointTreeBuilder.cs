using System.Numerics;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Turns the unpickler's plain values into <see cref="CheckpointNode"/>s, creating each tensor as a view of its
/// storage (loaded once per storage key). Objects reached twice become one node; cycles and absurd nesting are errors.
/// </summary>
internal sealed class CheckpointTreeBuilder(Func<PyStorage, Tensor> loadStorage, string source)
{
    /// <summary>Deepest nesting of containers accepted.</summary>
    public const int MaxDepth = 200;

    /// <summary>
    /// A view may address more elements than its storage holds (stride 0 broadcasts) only up to this count, so that
    /// copying it later cannot turn a tiny file into a giant allocation.
    /// </summary>
    public const long MaxBroadcastElements = 1L << 24;

    /// <summary>
    /// Most nodes a walk of the tree may visit, counting shared nodes once per path: a small file whose lists refer to
    /// each other repeatedly would otherwise describe an astronomically large tree.
    /// </summary>
    public const long MaxExpandedNodes = 10_000_000;

    private readonly Dictionary<object, CheckpointNode> _done = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<CheckpointNode, long> _expanded = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<object> _active = new(ReferenceEqualityComparer.Instance);

    /// <summary>Every tensor created, for disposal by the tree.</summary>
    public List<Tensor> Tensors { get; } = [];

    public CheckpointNode Build(object? value) => Node(value, 0);

    private CheckpointNode Node(object? value, int depth)
    {
        switch (value)
        {
            case null: return new CheckpointScalar(null);
            case bool or long or double: return new CheckpointScalar(value);
            case BigInteger b: return new CheckpointScalar(b);
            case string s: return new CheckpointString(s);
            case byte[] bytes: return new CheckpointBytes(bytes);
            case PyGlobal g: throw Error($"a bare reference to {g.FullName} is not a value a checkpoint can hold");
            case PyStorage: throw Error("a storage outside a tensor is not supported; save tensors instead");
        }
        if (_done.TryGetValue(value, out var node)) return node;
        if (depth >= MaxDepth) throw Error($"containers are nested more than {MaxDepth} deep");
        if (!_active.Add(value)) throw Error("a container contains itself (a reference cycle)");
        node = value switch
        {
            PyList l => new CheckpointList(l.Items.Select(i => Node(i, depth + 1)).ToList(), isTuple: false),
            PyTuple t => new CheckpointList(t.Items.Select(i => Node(i, depth + 1)).ToList(), isTuple: true),
            PyDict d => new CheckpointDict(d.Entries.Select(e => new KeyValuePair<CheckpointNode, CheckpointNode>(
                Node(e.Key, depth + 1), Node(e.Value, depth + 1))).ToList()),
            PyTensor t => Tensor(t),
            _ => throw Error($"unexpected value of type {value.GetType().Name}"),
        };
        _active.Remove(value);
        _done[value] = node;
        long size = 1 + node switch
        {
            CheckpointList l => l.Items.Sum(Expanded),
            CheckpointDict d => d.Entries.Sum(e => Expanded(e.Key) + Expanded(e.Value)),
            _ => 0,
        };
        if (size > MaxExpandedNodes)
            throw Error($"shared references expand to more than {MaxExpandedNodes} values");
        _expanded[node] = size;
        return node;
    }

    private long Expanded(CheckpointNode node) => _expanded.TryGetValue(node, out long n) ? n : 1;

    private CheckpointTensor Tensor(PyTensor t)
    {
        var storage = loadStorage(t.Storage);
        long available = storage.numel();
        string what = $"tensor of size [{string.Join(", ", t.Size)}], stride [{string.Join(", ", t.Stride)}] at offset {t.Offset} " +
                      $"in storage '{t.Storage.Key}' of {available} elements";
        if (t.Offset < 0 || t.Size.Any(s => s < 0) || t.Stride.Any(s => s < 0))
            throw Error($"{what}: negative size, stride or offset");
        long count = 1, last = t.Offset;
        try
        {
            checked
            {
                foreach (long s in t.Size) count *= s;
                if (count > 0)
                    for (int i = 0; i < t.Size.Length; i++) last += (t.Size[i] - 1) * t.Stride[i];
            }
        }
        catch (OverflowException)
        {
            throw Error($"{what}: its extent overflows 64 bits");
        }
        if (count > 0 ? last >= available : t.Offset > available)
            throw Error($"{what}: it reaches past the end of the storage");
        if (count > available && count > MaxBroadcastElements)
            throw Error($"{what}: it has {count} elements, more than its storage and more than {MaxBroadcastElements} allowed for broadcast views");
        var view = storage.as_strided(t.Size, t.Stride, t.Offset);
        Tensors.Add(view);
        return new CheckpointTensor(view, t.Storage.Key);
    }

    private CheckpointFormatException Error(string what) =>
        new($"{source}: {what}. Remedy: save the checkpoint again with torch.save.");
}
