using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// NumPy <c>.npy</c> files (format versions 1.0–3.0), so results can be checked in Python:
/// little-endian float64/float32/float16, int64/int32/int16/int8, uint8 and bool; C order or Fortran order on read,
/// C order on write. Writes are atomic (temporary file, then rename).
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] s_magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads <paramref name="path"/> into a CPU tensor of the file's dtype.</summary>
    public static Tensor Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such .npy file", path);
        var bytes = File.ReadAllBytes(path);
        try
        {
            return Parse(bytes);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: not a readable .npy file: {e.Message}. Save it with numpy.save(path, array).", e);
        }
    }

    /// <summary>Parses the bytes of a .npy file.</summary>
    public static Tensor Parse(byte[] bytes)
    {
        var h = ParseHeader(bytes);
        var (dtype, itemSize, shape, fortran) = (h.DType, h.ItemSize, h.Shape, h.FortranOrder);
        long dataStart = h.DataOffset;
        // Compare exactly so an absurd header (2⁶², 2³²·2³²·2³²) is a clear error, not an overflow or a huge allocation.
        var declared = shape.Aggregate(System.Numerics.BigInteger.One, (a, d) => a * d) * itemSize;
        if (declared != bytes.Length - dataStart)
            throw new FormatException($"data holds {bytes.Length - dataStart} bytes, the header declares shape ({string.Join(", ", shape)}) = {declared} bytes");
        long count = (long)(declared / itemSize);

        var flat = FromBytes(bytes.AsSpan((int)dataStart), dtype, count);
        if (!fortran || shape.Length < 2) return flat.reshape(shape);
        // Fortran order: the data is the transpose laid out in C order.
        using var reversed = flat.reshape(shape.Reverse().ToArray());
        return reversed.permute(Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).ToArray()).contiguous();
    }

    /// <summary>Writes <paramref name="tensor"/> (any device; copied to the host) as a C-order .npy file, atomically.</summary>
    public static void Write(string path, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var bytes = Serialize(tensor);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The bytes of a .npy file holding <paramref name="tensor"/>.</summary>
    public static byte[] Serialize(Tensor tensor)
    {
        using var host = tensor.detach().cpu().contiguous();
        var header = HeaderBytes(host.dtype, host.shape);
        var data = host.bytes;
        var result = new byte[header.Length + data.Length];
        header.CopyTo(result, 0);
        data.CopyTo(result.AsSpan(header.Length));
        return result;
    }

    /// <summary>The header of a .npy file: element type, shape, order and where the data starts.</summary>
    public sealed record Header(ScalarType DType, int ItemSize, long[] Shape, bool FortranOrder, long DataOffset)
    {
        /// <summary>Elements the header declares.</summary>
        public long Count => Shape.Aggregate(1L, (a, d) => checked(a * d));
    }

    /// <summary>Reads only the header of <paramref name="path"/> (for files too large to read whole).</summary>
    public static Header ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such .npy file", path);
        using var stream = File.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var start = new byte[12];
        int got = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        try
        {
            if (got < 10) throw new FormatException("truncated header");
            long length = start[6] == 1 ? 10 + BinaryPrimitives.ReadUInt16LittleEndian(start.AsSpan(8))
                : got == 12 ? 12 + (long)BinaryPrimitives.ReadUInt32LittleEndian(start.AsSpan(8)) : 0;
            if (length > 1 << 24) throw new FormatException("header too long");
            var bytes = new byte[Math.Max(length, 10)];
            stream.Position = 0;
            stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            return ParseHeader(bytes);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: not a readable .npy file: {e.Message}", e);
        }
    }

    private static long[] ParseShape(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length > 32) throw new FormatException($"shape has {parts.Length} dimensions (at most 32)");
        return parts.Select(p => long.TryParse(p.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long d)
            ? d
            : throw new FormatException($"shape entry '{p}' is not a dimension (a non-negative integer below 2⁶³)")).ToArray();
    }

    private static Header ParseHeader(byte[] bytes)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(s_magic)) throw new FormatException("bad magic (not a .npy file)");
        int major = bytes[6];
        int headerLen, headerStart;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); headerStart = 10; }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12) throw new FormatException("truncated header");
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            if (len > int.MaxValue) throw new FormatException("header too long");
            headerLen = (int)len; headerStart = 12;
        }
        else throw new FormatException($"unsupported format version {major}");
        if ((long)headerStart + headerLen > bytes.Length) throw new FormatException("truncated header");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, headerStart, headerLen);

        var descr = DescrRegex().Match(header);
        var order = FortranRegex().Match(header);
        var shapeMatch = ShapeRegex().Match(header);
        if (!descr.Success || !order.Success || !shapeMatch.Success) throw new FormatException($"malformed header {header.Trim()}");
        var (dtype, itemSize) = DType(descr.Groups[1].Value);
        long[] shape = ParseShape(shapeMatch.Groups[1].Value);
        if (shape.Aggregate(System.Numerics.BigInteger.One, (a, d) => a * d) * itemSize > long.MaxValue)
            throw new FormatException($"shape ({string.Join(", ", shape)}) declares more than 2⁶³ bytes");
        return new Header(dtype, itemSize, shape, order.Groups[1].Value == "True", headerStart + headerLen);
    }

    /// <summary>
    /// The header bytes (format 1.0, padded to 64 bytes) of a C-order file of <paramref name="dtype"/> and
    /// <paramref name="shape"/>; the data follows directly.
    /// </summary>
    public static byte[] HeaderBytes(ScalarType dtype, long[] shape)
    {
        string descr = dtype switch
        {
            ScalarType.Float64 => "<f8", ScalarType.Float32 => "<f4", ScalarType.Float16 => "<f2",
            ScalarType.Int64 => "<i8", ScalarType.Int32 => "<i4", ScalarType.Int16 => "<i2", ScalarType.Int8 => "|i1",
            ScalarType.Byte => "|u1", ScalarType.Bool => "|b1",
            _ => throw new ArgumentException($"dtype {dtype} has no .npy equivalent; convert to float32 or float64 first"),
        };
        string shapeText = shape.Length switch
        {
            0 => "()",
            1 => $"({shape[0]},)",
            _ => "(" + string.Join(", ", shape) + ")",
        };
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        int unpadded = 10 + dict.Length + 1;
        int pad = (64 - unpadded % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        var result = new byte[10 + header.Length];
        s_magic.CopyTo(result, 0);
        result[6] = 1;
        result[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)header.Length);
        Encoding.Latin1.GetBytes(header, result.AsSpan(10));
        return result;
    }

    private static (ScalarType, int) DType(string descr) => descr switch
    {
        "<f8" => (ScalarType.Float64, 8), "<f4" => (ScalarType.Float32, 4), "<f2" => (ScalarType.Float16, 2),
        "<i8" => (ScalarType.Int64, 8), "<i4" => (ScalarType.Int32, 4), "<i2" => (ScalarType.Int16, 2),
        "|i1" or "<i1" => (ScalarType.Int8, 1), "|u1" or "<u1" => (ScalarType.Byte, 1), "|b1" => (ScalarType.Bool, 1),
        _ => throw new FormatException($"unsupported dtype '{descr}' (big-endian or non-numeric); use numpy .astype('<f8')"),
    };

    private static Tensor FromBytes(ReadOnlySpan<byte> data, ScalarType dtype, long count)
    {
        var result = empty([count], dtype);
        if (count > 0) result.bytes = data.ToArray();
        return result;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
