using System.Buffers.Binary;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Raw element bytes to and from CPU tensors, in chunks (a span addresses at most 2 GiB), with byte-order conversion.
/// Callers check sizes against the data actually present before calling: nothing here allocates on a declared size alone.
/// </summary>
internal static class TensorBytes
{
    /// <summary>Chunk size for copies: a multiple of every element size, well below the 2 GiB span limit.</summary>
    private const long ChunkBytes = 1L << 28;

    /// <summary>True when data in <paramref name="bigEndian"/> order must be swapped on this machine.</summary>
    public static bool NeedsSwap(bool bigEndian) => bigEndian == BitConverter.IsLittleEndian;

    /// <summary>
    /// Reads <paramref name="count"/> elements of <paramref name="dtype"/> from <paramref name="source"/> into a new 1-D
    /// CPU tensor, filled chunk by chunk straight from the stream (one copy of the data in memory, also for compressed
    /// records, which are inflated as they stream). A size declared by data that may lie (a compressed record) costs no
    /// resident memory until data actually arrives: the buffer is allocated but not touched, and pages become resident
    /// only as chunks are written. Throws <see cref="EndOfStreamException"/> when the stream ends early.
    /// </summary>
    public static Tensor Read(Stream source, long count, CheckpointDType dtype, bool swap)
    {
        long chunkElements = ChunkBytes / dtype.ElementSize;
        var tensor = empty(count, dtype.ScalarType);
        try
        {
            for (long start = 0; start < count; start += chunkElements)
            {
                using var part = tensor.narrow(0, start, Math.Min(chunkElements, count - start));
                Fill(source, part, dtype, swap);
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private static void Fill(Stream source, Tensor contiguous, CheckpointDType dtype, bool swap)
    {
        var span = contiguous.bytes;
        source.ReadExactly(span);
        Normalize(span, dtype, swap);
    }

    /// <summary>Calls <paramref name="write"/> with the tensor's elements in row-major order, little-endian, chunk by chunk.</summary>
    public static void ForEachChunk(Tensor tensor, Action<ReadOnlySpan<byte>> write)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("writing checkpoints needs a little-endian machine");
        using var scope = NewDisposeScope();
        var flat = tensor.detach().cpu().contiguous().reshape(-1);
        long count = flat.numel();
        long chunkElements = ChunkBytes / flat.element_size();
        for (long start = 0; start < count; start += chunkElements)
        {
            var part = flat.narrow(0, start, Math.Min(chunkElements, count - start));
            write(part.bytes);
        }
    }

    /// <summary>Byte-swaps elements in place where needed; maps bool bytes to 0/1 (libtorch assumes nothing else).</summary>
    public static void Normalize(Span<byte> span, CheckpointDType dtype, bool swap)
    {
        if (dtype.ScalarType == ScalarType.Bool)
        {
            for (int i = 0; i < span.Length; i++) span[i] = span[i] != 0 ? (byte)1 : (byte)0;
            return;
        }
        if (!swap) return;
        switch (dtype.ElementSize)
        {
            case 2: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(span), MemoryMarshal.Cast<byte, ushort>(span)); break;
            case 4: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(span), MemoryMarshal.Cast<byte, uint>(span)); break;
            case 8: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(span), MemoryMarshal.Cast<byte, ulong>(span)); break;
        }
    }
}
