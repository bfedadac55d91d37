using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Writes the <c>data.pkl</c> of a state_dict exactly as PyTorch's <c>torch.save</c> does (pickle protocol 2): an
/// <c>OrderedDict</c> of <c>torch._utils._rebuild_tensor_v2</c> calls on persistent-id storages. It uses only the
/// opcodes and globals that <c>torch.load(..., weights_only=True)</c> accepts (checked against PyTorch 1.13 and 2.x).
/// </summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _out = new();
    private readonly Dictionary<string, int> _memo = new(StringComparer.Ordinal);

    /// <summary>One tensor as its storage key, storage class, storage size and view (offset, size, stride).</summary>
    public readonly record struct TensorEntry(string Name, string StorageKey, CheckpointDType DType, long StorageCount,
        long Offset, long[] Size, long[] Stride);

    public static byte[] StateDict(IReadOnlyList<TensorEntry> tensors)
    {
        var w = new PickleWriter();
        w.Op(0x80); w.Op(2); // PROTO 2
        w.Global("collections", "OrderedDict");
        w.Op(')'); w.Op('R'); // OrderedDict()
        for (int batch = 0; batch < tensors.Count; batch += 1000) // SETITEMS in batches of 1000, as pickle does
        {
            w.Op('(');
            foreach (var t in tensors.Skip(batch).Take(1000))
            {
                w.String(t.Name);
                w.Global("torch._utils", "_rebuild_tensor_v2");
                w.Op('(');
                w.Op('('); // persistent id: ('storage', torch.XStorage, key, 'cpu', numel)
                w.String("storage");
                w.Global("torch", t.DType.StorageClass);
                w.String(t.StorageKey);
                w.String("cpu");
                w.Int(t.StorageCount);
                w.Op('t');
                w.Op('Q'); // BINPERSID
                w.Int(t.Offset);
                w.Tuple(t.Size);
                w.Tuple(t.Stride);
                w.Op(0x89); // requires_grad = False
                w.Global("collections", "OrderedDict");
                w.Op(')'); w.Op('R'); // backward_hooks = OrderedDict()
                w.Op('t');
                w.Op('R');
            }
            w.Op('u'); // SETITEMS
        }
        w.Op('.');
        return w._out.ToArray();
    }

    private void Op(int code) => _out.WriteByte((byte)code);

    private void Op(char code) => _out.WriteByte((byte)code);

    /// <summary>GLOBAL, memoized: later uses are BINGETs.</summary>
    private void Global(string module, string name)
    {
        string key = module + "\n" + name + "\n";
        if (_memo.TryGetValue(key, out int index))
        {
            Get(index);
            return;
        }
        Op('c');
        _out.Write(Encoding.ASCII.GetBytes(key));
        index = _memo.Count;
        _memo[key] = index;
        if (index < 256) { Op('q'); Op(index); }
        else { Op('r'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, index); _out.Write(b); }
    }

    private void Get(int index)
    {
        if (index < 256) { Op('h'); Op(index); return; }
        Op('j');
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, index);
        _out.Write(b);
    }

    private void String(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Op('X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, bytes.Length);
        _out.Write(n);
        _out.Write(bytes);
    }

    private void Int(long v)
    {
        Span<byte> b = stackalloc byte[8];
        if (v is >= 0 and < 256) { Op('K'); Op((int)v); }
        else if (v is >= 0 and < 65536) { Op('M'); BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); _out.Write(b[..2]); }
        else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); _out.Write(b[..4]); }
        else
        {
            var bytes = new BigInteger(v).ToByteArray(); // little-endian two's complement, minimal length
            Op(0x8a); Op(bytes.Length);
            _out.Write(bytes);
        }
    }

    private void Tuple(long[] values)
    {
        if (values.Length == 0) { Op(')'); return; }
        if (values.Length > 3) Op('(');
        foreach (long v in values) Int(v);
        Op(values.Length switch { 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => 't' });
    }
}
