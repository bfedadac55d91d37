using System.Numerics;

namespace GpuNtk.Checkpoints;

// The values the restricted unpickler builds: plain data only. Python None, bool, int, float, str and bytes are
// null, bool, long/BigInteger, double, string and byte[]; the containers and torch objects are the classes below.
// Nothing here can run code: globals are names, and "calling" one means building one of these records.

/// <summary>A Python list (also a set or frozenset, kept as a list).</summary>
internal sealed class PyList
{
    public List<object?> Items { get; } = [];
}

/// <summary>A Python tuple.</summary>
internal sealed class PyTuple(object?[] items)
{
    public object?[] Items { get; } = items;
}

/// <summary>A Python dict or OrderedDict in insertion order; a repeated key keeps its place and takes the new value.</summary>
internal sealed class PyDict
{
    private readonly Dictionary<object, int> _index = [];

    public List<KeyValuePair<object?, object?>> Entries { get; } = [];

    public void Set(object? key, object? value)
    {
        if (key is PyList or PyDict)
            throw new PickleException($"a dict key is an unhashable {PickleTypes.Name(key)}");
        object? normalized = key switch { bool b => b ? 1L : 0L, BigInteger i when i >= long.MinValue && i <= long.MaxValue => (long)i, _ => key };
        if (normalized is string or long && _index.TryGetValue(normalized, out int at))
        {
            Entries[at] = new(Entries[at].Key, value);
            return;
        }
        if (normalized is string or long) _index[normalized] = Entries.Count;
        Entries.Add(new(key, value));
    }
}

/// <summary>A global named by GLOBAL or STACK_GLOBAL that passed the allow-list, e.g. <c>collections.OrderedDict</c>.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>A storage named by a persistent id: record <c>data/&lt;Key&gt;</c> holding <see cref="Count"/> elements.</summary>
internal sealed record PyStorage(string Key, CheckpointDType DType, long Count, string Location);

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a strided view of a storage.</summary>
internal sealed record PyTensor(PyStorage Storage, long Offset, long[] Size, long[] Stride);

/// <summary>Type names for messages.</summary>
internal static class PickleTypes
{
    public static string Name(object? v) => v switch
    {
        null => "None",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        PyList => "list",
        PyTuple => "tuple",
        PyDict => "dict",
        PyGlobal g => g.FullName,
        PyStorage => "storage",
        PyTensor => "tensor",
        _ => v.GetType().Name,
    };
}

/// <summary>A malformed or refused pickle; the unpickler adds the file name and position.</summary>
internal class PickleException(string message) : Exception(message);
