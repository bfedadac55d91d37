using System.Text;

namespace GpuNtk.Checkpoints;

/// <summary>
/// The Python globals a checkpoint's pickle may name, and what "calling" each of them builds. This is the whole of the
/// unpickler's contact with the outside world: any other global is refused by name, and nothing is ever executed —
/// <see cref="Reduce"/> builds plain records (<see cref="PyDict"/>, <see cref="PyTensor"/>, …) from plain arguments.
/// </summary>
internal static class PickleAllowList
{
    private const string Utils = "torch._utils";

    /// <summary>Most tensor dimensions accepted (libtorch's own limit is 64).</summary>
    public const int MaxDimensions = 64;

    private static readonly HashSet<string> s_callables =
    [
        "collections.OrderedDict",
        $"{Utils}._rebuild_tensor_v2",
        $"{Utils}._rebuild_tensor",
        $"{Utils}._rebuild_parameter",
        $"{Utils}._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2",
        "torch.Size",
        "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
        "_codecs.encode",
    ];

    /// <summary>Globals that may appear as values (types) but are never called.</summary>
    private static readonly HashSet<string> s_types =
    [
        "torch.Tensor", "torch.nn.parameter.Parameter",
        .. CheckpointDType.All.Select(d => "torch." + d.StorageClass),
    ];

    /// <summary>Every allowed global, for error messages and documentation.</summary>
    public static IEnumerable<string> Names => s_callables.Concat(s_types).Order(StringComparer.Ordinal);

    /// <summary>The global if it is allowed; otherwise a refusal naming it.</summary>
    public static PyGlobal Resolve(string module, string name)
    {
        string full = module + "." + name;
        if (s_callables.Contains(full) || s_types.Contains(full)) return new PyGlobal(module, name);
        throw new PickleRefusedException(full);
    }

    /// <summary>The result of the pickle calling <paramref name="callable"/> with <paramref name="args"/> (REDUCE).</summary>
    public static object? Reduce(PyGlobal callable, PyTuple args)
    {
        var a = args.Items;
        switch (callable.FullName)
        {
            case "collections.OrderedDict":
                {
                    var dict = new PyDict();
                    if (a.Length == 0) return dict;
                    Expect(a.Length == 1, callable, "takes at most one argument");
                    foreach (var pair in Sequence(a[0], callable))
                    {
                        var kv = Sequence(pair, callable);
                        Expect(kv.Count == 2, callable, "items must be (key, value) pairs");
                        dict.Set(kv[0], kv[1]);
                    }
                    return dict;
                }
            case $"{Utils}._rebuild_tensor_v2":
                Expect(a.Length is 6 or 7, callable, $"takes 6 or 7 arguments, not {a.Length}");
                return Tensor(a, callable);
            case $"{Utils}._rebuild_tensor":
                Expect(a.Length == 4, callable, $"takes 4 arguments, not {a.Length}");
                return Tensor(a, callable);
            case $"{Utils}._rebuild_parameter":
            case $"{Utils}._rebuild_parameter_with_state":
                Expect(a.Length is 3 or 4 && a[0] is PyTensor, callable, "takes a tensor and its flags");
                return a[0];
            case "torch._tensor._rebuild_from_type_v2":
                {
                    Expect(a.Length == 4 && a[0] is PyGlobal && a[1] is PyGlobal && a[2] is PyTuple, callable,
                        "takes (function, type, args, state)");
                    var type = (PyGlobal)a[1]!;
                    Expect(type.FullName is "torch.Tensor" or "torch.nn.parameter.Parameter", callable,
                        $"may only rebuild torch.Tensor or torch.nn.Parameter, not {type.FullName}");
                    return Reduce((PyGlobal)a[0]!, (PyTuple)a[2]!);
                }
            case "torch.Size":
                Expect(a.Length == 1, callable, "takes one argument");
                return new PyTuple([.. Sequence(a[0], callable)]);
            case "builtins.set" or "builtins.frozenset" or "__builtin__.set" or "__builtin__.frozenset":
                {
                    var set = new PyList();
                    if (a.Length == 1) set.Items.AddRange(Sequence(a[0], callable));
                    else Expect(a.Length == 0, callable, "takes at most one argument");
                    return set;
                }
            case "_codecs.encode":
                {
                    Expect(a.Length == 2 && a[0] is string && a[1] is string, callable, "takes (str, encoding)");
                    var (text, encoding) = ((string)a[0]!, ((string)a[1]!).ToLowerInvariant());
                    if (encoding is "latin1" or "latin-1" or "iso-8859-1") return Encoding.Latin1.GetBytes(text);
                    if (encoding is "utf-8" or "utf8") return Encoding.UTF8.GetBytes(text);
                    throw new PickleException($"_codecs.encode with encoding '{encoding}' is not supported");
                }
            default:
                throw new PickleException($"{callable.FullName} cannot be called");
        }
    }

    /// <summary>The result of <c>cls.__new__(cls, *args)</c> (NEWOBJ): only dictionaries may be created this way.</summary>
    public static object NewObject(PyGlobal cls)
    {
        if (cls.FullName == "collections.OrderedDict") return new PyDict();
        throw new PickleException($"instances of {cls.FullName} cannot be created");
    }

    private static PyTensor Tensor(object?[] a, PyGlobal callable)
    {
        if (a[0] is not PyStorage storage)
            throw new PickleException($"{callable.FullName}: first argument is a {PickleTypes.Name(a[0])}, not a storage");
        long offset = Long(a[1], callable, "storage offset");
        long[] size = Longs(a[2], callable, "size");
        long[] stride = Longs(a[3], callable, "stride");
        if (size.Length != stride.Length)
            throw new PickleException($"{callable.FullName}: size has {size.Length} dimensions but stride {stride.Length}");
        if (size.Length > MaxDimensions)
            throw new PickleException($"{callable.FullName}: {size.Length} dimensions (at most {MaxDimensions})");
        return new PyTensor(storage, offset, size, stride);
    }

    private static long Long(object? v, PyGlobal callable, string what) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new PickleException($"{callable.FullName}: {what} is a {PickleTypes.Name(v)}, not a 64-bit int"),
    };

    private static long[] Longs(object? v, PyGlobal callable, string what) =>
        Sequence(v, callable).Select(x => Long(x, callable, what + " entry")).ToArray();

    private static IReadOnlyList<object?> Sequence(object? v, PyGlobal callable) => v switch
    {
        PyTuple t => t.Items,
        PyList l => l.Items,
        _ => throw new PickleException($"{callable.FullName}: expected a tuple or list, got a {PickleTypes.Name(v)}"),
    };

    private static void Expect(bool condition, PyGlobal callable, string what)
    {
        if (!condition) throw new PickleException($"{callable.FullName} {what}");
    }
}

/// <summary>The pickle named a global outside the allow-list.</summary>
internal sealed class PickleRefusedException(string globalName)
    : PickleException($"refused global '{globalName}': it is not on the allow-list of plain data and tensor types")
{
    public string GlobalName { get; } = globalName;
}
