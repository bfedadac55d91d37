using System.Collections;
using System.Diagnostics.CodeAnalysis;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Named tensors in file order, as PyTorch's <c>state_dict()</c>, plus the string metadata a safetensors file carries.
/// The dictionary owns its tensors and disposes them with itself; tensors loaded from one storage share memory.
/// </summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly List<string> _keys = [];
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    public StateDict() { }

    /// <summary>Takes ownership of <paramref name="tensors"/> (in order).</summary>
    public StateDict(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        foreach (var (k, v) in tensors) Add(k, v);
        if (metadata is not null) Metadata = metadata;
    }

    /// <summary>String metadata (safetensors <c>__metadata__</c>); empty for PyTorch files.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Adds a tensor the dictionary then owns; throws on a duplicate name.</summary>
    public void Add(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(tensor);
        if (!_tensors.TryAdd(name, tensor)) throw new ArgumentException($"tensor '{name}' is already in the state_dict", nameof(name));
        _keys.Add(name);
    }

    public Tensor this[string key] => _tensors.TryGetValue(key, out var t)
        ? t
        : throw new KeyNotFoundException($"no tensor '{key}' in the state_dict; it has: {string.Join(", ", _keys)}");

    public IEnumerable<string> Keys => _keys;
    public IEnumerable<Tensor> Values => _keys.Select(k => _tensors[k]);
    public int Count => _keys.Count;
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => _tensors.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() =>
        _keys.Select(k => new KeyValuePair<string, Tensor>(k, _tensors[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
        _keys.Clear();
    }
}
