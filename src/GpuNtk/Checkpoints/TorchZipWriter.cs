using System.Buffers.Binary;
using System.Text;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Writes a zip archive the way <c>torch.save</c> does: every record STORED (uncompressed) with its data aligned to 64
/// bytes by padding in an extra field (id <c>FB</c>), sizes and CRC-32 in the local header, fixed timestamps.
/// The archive must stay under 4 GiB and 65,535 records (no zip64); larger state_dicts can be saved as safetensors.
/// </summary>
internal sealed class TorchZipWriter(Stream output)
{
    public const int Alignment = 64;
    private const ushort PaddingFieldId = 0x4246; // "FB", as PyTorch's writer names it
    private const ushort DosDate = (0 << 9) | (1 << 5) | 1; // 1980-01-01
    private readonly List<(string Name, uint Crc, long Size, long Offset)> _records = [];
    private long _position;

    /// <summary>Adds a record whose bytes are produced by <paramref name="write"/>, called twice (for the CRC, then to write).</summary>
    public void Add(string name, long size, Action<Action<ReadOnlySpan<byte>>> write)
    {
        var crc = new Crc32();
        long counted = 0;
        write(chunk => { crc.Append(chunk); counted += chunk.Length; });
        if (counted != size) throw new InvalidOperationException($"record {name}: produced {counted} bytes, expected {size}");
        var nameBytes = Encoding.UTF8.GetBytes(name);
        long offset = _position;
        int padding = (int)((Alignment - (offset + 30 + nameBytes.Length + 4) % Alignment) % Alignment);
        if (offset + 30 + nameBytes.Length + 4 + padding + size > uint.MaxValue || _records.Count >= ushort.MaxValue)
            throw new NotSupportedException("the checkpoint would exceed 4 GiB or 65,535 records (zip64 is not written); " +
                                            "save it as .safetensors instead");
        Span<byte> header = stackalloc byte[34];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 20); // version needed: 2.0
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0); // flags
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], 0); // method: stored
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 0); // time
        BinaryPrimitives.WriteUInt16LittleEndian(header[12..], DosDate);
        BinaryPrimitives.WriteUInt32LittleEndian(header[14..], crc.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(header[18..], (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(header[22..], (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(header[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)(4 + padding));
        Emit(header[..30]);
        Emit(nameBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(header, PaddingFieldId);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], (ushort)padding);
        Emit(header[..4]);
        Span<byte> pad = stackalloc byte[Alignment];
        pad.Fill((byte)'Z');
        Emit(pad[..padding]);
        long written = 0;
        write(chunk => { Emit(chunk); written += chunk.Length; });
        if (written != size) throw new InvalidOperationException($"record {name}: wrote {written} bytes, expected {size}");
        _records.Add((name, crc.Value, size, offset));
    }

    public void Add(string name, byte[] data) => Add(name, data.Length, emit => emit(data));

    /// <summary>Writes the central directory and the end record.</summary>
    public void Finish()
    {
        long start = _position;
        Span<byte> h = stackalloc byte[46];
        foreach (var (name, crc, size, offset) in _records)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20); // made by: 2.0
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 20); // needed: 2.0
            BinaryPrimitives.WriteUInt16LittleEndian(h[14..], DosDate);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], (uint)offset);
            Emit(h);
            Emit(nameBytes);
        }
        long directorySize = _position - start;
        if (_position > uint.MaxValue) throw new NotSupportedException("the checkpoint would exceed 4 GiB; save it as .safetensors instead");
        Span<byte> end = stackalloc byte[22];
        end.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end[8..], (ushort)_records.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(end[10..], (ushort)_records.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(end[12..], (uint)directorySize);
        BinaryPrimitives.WriteUInt32LittleEndian(end[16..], (uint)start);
        Emit(end);
        output.Flush();
    }

    private void Emit(ReadOnlySpan<byte> bytes)
    {
        output.Write(bytes);
        _position += bytes.Length;
    }
}
