using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace GpuNtk.Checkpoints;

/// <summary>
/// A pickle reader for the opcodes <c>torch.save</c> emits (protocols 2–5) that builds plain data only: containers,
/// numbers, strings, and tensor descriptions whose storages come from the persistent ids. Globals are resolved through
/// <see cref="PickleAllowList"/>; nothing is imported or executed. Every length is checked against the bytes left, so
/// malformed input ends in a <see cref="CheckpointFormatException"/> that names the file, the byte offset and the opcode.
/// </summary>
internal sealed class RestrictedUnpickler
{
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _data;
    private readonly string _source;
    private readonly Dictionary<long, object?> _memo = [];
    private readonly Dictionary<string, PyStorage> _storages = new(StringComparer.Ordinal);
    private readonly List<List<object?>> _marks = [];
    private List<object?> _stack = [];
    private int _pos;

    private RestrictedUnpickler(byte[] data, string source)
    {
        _data = data;
        _source = source;
    }

    /// <summary>The storages the pickle referred to, by key.</summary>
    public IReadOnlyDictionary<string, PyStorage> Storages => _storages;

    /// <summary>Unpickles <paramref name="data"/>; <paramref name="source"/> labels errors (e.g. <c>model.pt: data.pkl</c>).</summary>
    public static (object? Value, IReadOnlyDictionary<string, PyStorage> Storages) Load(byte[] data, string source)
    {
        var reader = new RestrictedUnpickler(data, source);
        var value = reader.Run();
        return (value, reader.Storages);
    }

    private object? Run()
    {
        int opcodeAt = 0;
        byte op = 0;
        try
        {
            while (true)
            {
                opcodeAt = _pos;
                op = U8();
                if (op == (byte)'.') return Pop();
                Step(op);
            }
        }
        catch (PickleRefusedException e)
        {
            throw new UnsafeCheckpointException(
                $"{_source}: {e.Message} (opcode {Describe(op)} at byte {opcodeAt}). Nothing was executed. " +
                "The file holds more than weights (a pickled module or arbitrary object); in Python, save " +
                "model.state_dict() (or a dict of tensors, numbers and strings) with torch.save and load that.",
                e.GlobalName);
        }
        catch (PickleException e)
        {
            throw new CheckpointFormatException(
                $"{_source}: malformed pickle at byte {opcodeAt} (opcode {Describe(op)}): {e.Message}. " +
                "Remedy: save the checkpoint again with torch.save.", e);
        }
    }

    private void Step(byte op)
    {
        switch (op)
        {
            // Framing and protocol.
            case 0x80: // PROTO
                {
                    int proto = U8();
                    if (proto > 5) throw new PickleException($"pickle protocol {proto} is newer than 5");
                    break;
                }
            case 0x95: // FRAME: a length hint; the framed opcodes follow inline
                if (U64() > (ulong)(_data.Length - _pos)) throw new PickleException("frame runs past the end of the data");
                break;

            // Stack and memo.
            case (byte)'(': _marks.Add(_stack); _stack = []; break; // MARK
            case (byte)'0': if (_stack.Count > 0) Pop(); else PopMark(); break; // POP
            case (byte)'1': PopMark(); break; // POP_MARK
            case (byte)'2': Push(Top()); break; // DUP
            case (byte)'h': Push(Memo(U8())); break; // BINGET
            case (byte)'j': Push(Memo(U32())); break; // LONG_BINGET
            case (byte)'q': _memo[U8()] = Top(); break; // BINPUT
            case (byte)'r': _memo[U32()] = Top(); break; // LONG_BINPUT
            case 0x94: _memo[_memo.Count] = Top(); break; // MEMOIZE

            // Constants, numbers, strings.
            case (byte)'N': Push(null); break; // NONE
            case 0x88: Push(true); break; // NEWTRUE
            case 0x89: Push(false); break; // NEWFALSE
            case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
            case (byte)'K': Push((long)U8()); break; // BININT1
            case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
            case 0x8a: Push(Long(Take(U8()))); break; // LONG1
            case 0x8b: Push(Long(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))))); break; // LONG4
            case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
            case (byte)'X': Push(Utf8(Take(U32()))); break; // BINUNICODE
            case 0x8c: Push(Utf8(Take(U8()))); break; // SHORT_BINUNICODE
            case 0x8d: Push(Utf8(Take(Length(U64())))); break; // BINUNICODE8
            case (byte)'T': Push(Encoding.Latin1.GetString(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))))); break; // BINSTRING
            case (byte)'U': Push(Encoding.Latin1.GetString(Take(U8()))); break; // SHORT_BINSTRING
            case (byte)'B': Push(Take(U32()).ToArray()); break; // BINBYTES
            case (byte)'C': Push(Take(U8()).ToArray()); break; // SHORT_BINBYTES
            case 0x8e: Push(Take(Length(U64())).ToArray()); break; // BINBYTES8
            case 0x96: Push(Take(Length(U64())).ToArray()); break; // BYTEARRAY8
            case 0x98: Top(); break; // READONLY_BUFFER: no effect on plain bytes

            // Containers.
            case (byte)')': Push(new PyTuple([])); break; // EMPTY_TUPLE
            case (byte)'t': Push(new PyTuple([.. PopMark()])); break; // TUPLE
            case 0x85: Push(new PyTuple([Pop()])); break; // TUPLE1
            case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple([a, b])); break; } // TUPLE2
            case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple([a, b, c])); break; } // TUPLE3
            case (byte)']': Push(new PyList()); break; // EMPTY_LIST
            case (byte)'l': { var list = new PyList(); list.Items.AddRange(PopMark()); Push(list); break; } // LIST
            case (byte)'a': { var v = Pop(); TopAs<PyList>("APPEND").Items.Add(v); break; } // APPEND
            case (byte)'e': { var items = PopMark(); TopAs<PyList>("APPENDS").Items.AddRange(items); break; } // APPENDS
            case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
            case (byte)'d': { var d = new PyDict(); SetItems(d, PopMark()); Push(d); break; } // DICT
            case (byte)'s': { var v = Pop(); var k = Pop(); TopAs<PyDict>("SETITEM").Set(k, v); break; } // SETITEM
            case (byte)'u': { var items = PopMark(); SetItems(TopAs<PyDict>("SETITEMS"), items); break; } // SETITEMS
            case 0x8f: Push(new PyList()); break; // EMPTY_SET
            case 0x90: { var items = PopMark(); TopAs<PyList>("ADDITEMS").Items.AddRange(items); break; } // ADDITEMS
            case 0x91: { var set = new PyList(); set.Items.AddRange(PopMark()); Push(set); break; } // FROZENSET

            // Globals and calls: resolved through the allow-list, never executed.
            case (byte)'c': { var module = Line(); var name = Line(); Push(PickleAllowList.Resolve(module, name)); break; } // GLOBAL
            case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw new PickleException("STACK_GLOBAL name is not a string");
                    var module = Pop() as string ?? throw new PickleException("STACK_GLOBAL module is not a string");
                    Push(PickleAllowList.Resolve(module, name));
                    break;
                }
            case (byte)'R': // REDUCE
                {
                    var args = Pop() as PyTuple ?? throw new PickleException("REDUCE arguments are not a tuple");
                    var callable = Top() as PyGlobal ?? throw new PickleException($"REDUCE on a {PickleTypes.Name(Top())}, not a global");
                    _stack[^1] = PickleAllowList.Reduce(callable, args);
                    break;
                }
            case 0x81: // NEWOBJ
                {
                    if (Pop() is not PyTuple) throw new PickleException("NEWOBJ arguments are not a tuple");
                    Push(PickleAllowList.NewObject(Pop() as PyGlobal ?? throw new PickleException("NEWOBJ on a non-class")));
                    break;
                }
            case 0x92: // NEWOBJ_EX
                {
                    Pop();
                    if (Pop() is not PyTuple) throw new PickleException("NEWOBJ_EX arguments are not a tuple");
                    Push(PickleAllowList.NewObject(Pop() as PyGlobal ?? throw new PickleException("NEWOBJ_EX on a non-class")));
                    break;
                }
            case (byte)'b': // BUILD: attributes of dicts (state_dict()._metadata) and tensors (Parameter state) are dropped
                {
                    var state = Pop();
                    var inst = Top();
                    if (inst is not (PyDict or PyTensor))
                        throw new PickleException($"BUILD on a {PickleTypes.Name(inst)} (with a {PickleTypes.Name(state)} state)");
                    break;
                }
            case (byte)'Q': Push(PersistentLoad(Pop())); break; // BINPERSID

            case (byte)'I' or (byte)'L' or (byte)'F' or (byte)'S' or (byte)'V' or (byte)'P' or (byte)'g' or (byte)'p':
                throw new PickleException("text opcodes of pickle protocol 0/1 are not supported; torch.save writes protocol 2 or newer");
            case (byte)'i' or (byte)'o':
                throw new PickleException("INST/OBJ create arbitrary objects and are refused");
            case 0x82 or 0x83 or 0x84:
                throw new PickleException("extension-registry opcodes are refused");
            case 0x97:
                throw new PickleException("out-of-band buffers (NEXT_BUFFER) are not supported");
            default:
                throw new PickleException("unknown opcode");
        }
    }

    /// <summary>BINPERSID: <c>('storage', torch.XStorage, key, location, numel)</c> names a storage record.</summary>
    private PyStorage PersistentLoad(object? pid)
    {
        if (pid is not PyTuple { Items: var t } || t.Length != 5)
            throw new PickleException($"persistent id is a {PickleTypes.Name(pid)}, not ('storage', type, key, location, size)");
        string kind = t[0] switch { string s => s, byte[] b => Encoding.ASCII.GetString(b), _ => "" };
        if (kind != "storage") throw new PickleException($"persistent id of kind '{kind}'; only 'storage' is supported");
        if (t[1] is not PyGlobal { Module: "torch" } type || CheckpointDType.FromStorageClass(type.Name) is not { } dtype)
            throw new PickleException($"storage type {PickleTypes.Name(t[1])} is not one of {string.Join(", ", CheckpointDType.All.Select(d => "torch." + d.StorageClass))}");
        string key = t[2] switch
        {
            string s when s.Length is > 0 and <= 256 => s,
            long l when l >= 0 => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new PickleException("storage key is not a short string"),
        };
        string location = t[3] as string ?? throw new PickleException("storage location is not a string");
        if (t[4] is not long count || count < 0) throw new PickleException("storage size is not a non-negative int");
        if (_storages.TryGetValue(key, out var seen))
        {
            if (seen.DType != dtype)
                throw new PickleException($"storage '{key}' is used as {seen.DType} and as {dtype}");
            return seen;
        }
        var storage = new PyStorage(key, dtype, count, location);
        _storages[key] = storage;
        return storage;
    }

    private static void SetItems(PyDict dict, List<object?> items)
    {
        if (items.Count % 2 != 0) throw new PickleException("odd number of items for a dict");
        for (int i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
    }

    // ---- stack helpers ----

    private void Push(object? v) => _stack.Add(v);

    private object? Pop()
    {
        if (_stack.Count == 0) throw new PickleException("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Top() => _stack.Count > 0 ? _stack[^1] : throw new PickleException("stack underflow");

    private T TopAs<T>(string opcode) where T : class =>
        Top() as T ?? throw new PickleException($"{opcode} on a {PickleTypes.Name(Top())}");

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw new PickleException("no MARK to pop to");
        var items = _stack;
        _stack = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        return items;
    }

    private object? Memo(long index) =>
        _memo.TryGetValue(index, out var v) ? v : throw new PickleException($"memo entry {index} was never stored");

    // ---- byte helpers: every length is checked against what is left ----

    private byte U8()
    {
        if (_pos >= _data.Length) throw new PickleException("unexpected end of data (no STOP opcode)");
        return _data[_pos++];
    }

    private uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    private ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    private static long Length(int declared) =>
        declared >= 0 ? declared : throw new PickleException($"negative length {declared}");

    private static long Length(ulong declared) =>
        declared <= int.MaxValue ? (long)declared : throw new PickleException($"declared length {declared} is absurd");

    private ReadOnlySpan<byte> Take(long count)
    {
        if (count < 0 || count > _data.Length - _pos)
            throw new PickleException($"declared length {count} runs past the end of the data ({_data.Length - _pos} bytes left)");
        var span = _data.AsSpan(_pos, (int)count);
        _pos += (int)count;
        return span;
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw new PickleException("unterminated GLOBAL name");
        var text = Utf8(_data.AsSpan(_pos, end - _pos));
        _pos = end + 1;
        return text;
    }

    private static string Utf8(ReadOnlySpan<byte> bytes)
    {
        try { return s_utf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw new PickleException("string is not valid UTF-8"); }
    }

    private static object Long(ReadOnlySpan<byte> bytes)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    private static string Describe(byte op) =>
        op is >= 0x20 and < 0x7f ? $"'{(char)op}' (0x{op:x2})" : $"0x{op:x2}";
}
