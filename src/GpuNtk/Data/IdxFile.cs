using System.Buffers.Binary;
using System.IO.Compression;
using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte
/// (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, each
/// dimension as a big-endian int32, then the data in C order, big-endian. Read plain or gzip-compressed (by content,
/// not by name). Every malformed file gives an <see cref="InvalidDataException"/> naming it and the fix.
/// </summary>
public static class IdxFile
{
    /// <summary>Largest element count accepted from a header, so a corrupt header cannot ask for an absurd allocation.</summary>
    public const long MaxElements = 1L << 31;

    /// <summary>Reads <paramref name="path"/> into a CPU tensor (uint8 data stays uint8).</summary>
    public static Tensor Read(string path, string remedy)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing; {remedy}", path);
        if (DataFile.Length(path) == 0) throw new InvalidDataException($"{path} is empty; {remedy}");
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        try
        {
            return Read(stream, path, remedy);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // GZipStream reports a corrupt stream without naming the file.
            throw new InvalidDataException($"{path}: {e.Message}; {remedy}", e);
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static Tensor Read(Stream stream, string path, string remedy)
    {
        Span<byte> head = stackalloc byte[4];
        ReadExactly(stream, head, path, "the 4-byte magic number", remedy);
        if (head[0] != 0 || head[1] != 0)
            throw new InvalidDataException($"{path} does not start with an IDX magic number (00 00 type dims): it is not an IDX file; {remedy}");
        var (dtype, itemSize) = head[2] switch
        {
            0x08 => (ScalarType.Byte, 1), 0x09 => (ScalarType.Int8, 1), 0x0B => (ScalarType.Int16, 2),
            0x0C => (ScalarType.Int32, 4), 0x0D => (ScalarType.Float32, 4), 0x0E => (ScalarType.Float64, 8),
            var t => throw new InvalidDataException($"{path}: IDX type byte 0x{t:x2} is not one of 08, 09, 0B, 0C, 0D, 0E; {remedy}"),
        };
        int rank = head[3];
        if (rank is < 1 or > 8) throw new InvalidDataException($"{path}: IDX header declares {rank} dimensions (1–8 expected); {remedy}");
        var dims = new byte[4 * rank];
        ReadExactly(stream, dims, path, "the dimension sizes", remedy);
        var shape = new long[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            shape[i] = BinaryPrimitives.ReadUInt32BigEndian(dims.AsSpan(4 * i));
            if (shape[i] > MaxElements || (count *= shape[i]) > MaxElements)
                throw new InvalidDataException($"{path}: IDX header declares shape [{string.Join(", ", shape.Take(i + 1))}…], more than {MaxElements:N0} elements; the header is corrupt; {remedy}");
        }
        var data = new byte[count * itemSize];
        ReadExactly(stream, data, path, $"{count:N0} elements of shape [{string.Join(", ", shape)}]", remedy);
        if (stream.ReadByte() != -1)
            throw new InvalidDataException($"{path} holds more data than its header declares (shape [{string.Join(", ", shape)}]); {remedy}");
        if (itemSize > 1 && BitConverter.IsLittleEndian) SwapEndianness(data, itemSize);
        var result = empty(shape, dtype);
        if (count > 0) result.bytes = data;
        return result;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what, string remedy)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int read = stream.Read(buffer[done..]);
            if (read == 0) throw new InvalidDataException($"{path} ends before {what} ({done} of {buffer.Length} bytes): it is truncated; {remedy}");
            done += read;
        }
    }

    private static void SwapEndianness(byte[] data, int itemSize)
    {
        for (int i = 0; i < data.Length; i += itemSize) Array.Reverse(data, i, itemSize);
    }

    /// <summary>The bytes of an uncompressed IDX file holding <paramref name="tensor"/> (uint8 only), for tests and tools.</summary>
    public static byte[] SerializeBytes(Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Byte) throw new ArgumentException("IdxFile.SerializeBytes writes uint8 tensors only");
        using var host = tensor.cpu().contiguous();
        var result = new byte[4 + 4 * host.dim() + host.numel()];
        result[2] = 0x08;
        result[3] = (byte)host.dim();
        for (int i = 0; i < host.dim(); i++) BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(4 + 4 * i), (uint)host.shape[i]);
        host.bytes.CopyTo(result.AsSpan(4 + 4 * (int)host.dim()));
        return result;
    }
}
