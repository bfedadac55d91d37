using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using GpuNtk.Checkpoints;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>Builds torch.save-style archives from records, and pickles from opcode fragments, for malformed-input tests.</summary>
internal static class TorchZipBuilder
{
    /// <summary>The records of an archive, in order, by full name.</summary>
    public static List<KeyValuePair<string, byte[]>> Records(byte[] archive)
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        var records = new List<KeyValuePair<string, byte[]>>();
        foreach (var e in zip.Entries)
        {
            using var s = e.Open();
            var m = new MemoryStream();
            s.CopyTo(m);
            records.Add(new(e.FullName, m.ToArray()));
        }
        return records;
    }

    /// <summary>An archive (with valid CRCs) holding <paramref name="records"/>.</summary>
    public static byte[] Build(IEnumerable<KeyValuePair<string, byte[]>> records)
    {
        var output = new MemoryStream();
        var writer = new TorchZipWriter(output);
        foreach (var (name, data) in records) writer.Add(name, data);
        writer.Finish();
        return output.ToArray();
    }

    /// <summary>An archive <c>t/</c> with the given pickle, version 3 and the given storages (data/0, data/1, …).</summary>
    public static byte[] WithPickle(byte[] pickle, params byte[][] storages)
    {
        var records = new List<KeyValuePair<string, byte[]>> { new("t/data.pkl", pickle) };
        for (int i = 0; i < storages.Length; i++) records.Add(new($"t/data/{i}", storages[i]));
        records.Add(new("t/version", "3\n"u8.ToArray()));
        return Build(records);
    }

    /// <summary>
    /// The pickle of <c>{"w": tensor}</c> with a float32 storage "0" of <paramref name="storageCount"/> elements viewed at
    /// (<paramref name="offset"/>, <paramref name="size"/>, <paramref name="stride"/>) — any values, valid or not.
    /// </summary>
    public static byte[] TensorPickle(long storageCount, long offset, long[] size, long[] stride) =>
        PickleWriter.StateDict([new("w", "0", CheckpointDType.Of(TorchSharp.torch.ScalarType.Float32), storageCount, offset, size, stride)]);

    /// <summary>
    /// Pickle bytes from fragments: char/byte → one byte (an opcode), string → its UTF-8 bytes, byte[] → as is,
    /// uint → 4 bytes little-endian, ulong → 8 bytes little-endian.
    /// </summary>
    public static byte[] Pickle(params object[] parts)
    {
        var m = new MemoryStream();
        foreach (var p in parts)
        {
            switch (p)
            {
                case char c: m.WriteByte((byte)c); break;
                case byte b: m.WriteByte(b); break;
                case int i when i is >= 0 and < 256: m.WriteByte((byte)i); break;
                case string s: m.Write(Encoding.UTF8.GetBytes(s)); break;
                case byte[] bytes: m.Write(bytes); break;
                case uint u: { Span<byte> x = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(x, u); m.Write(x); break; }
                case ulong u: { Span<byte> x = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(x, u); m.Write(x); break; }
                default: throw new ArgumentException($"fragment {p}");
            }
        }
        return m.ToArray();
    }

    /// <summary>A BINUNICODE string.</summary>
    public static byte[] Str(string s) => Pickle('X', (uint)Encoding.UTF8.GetByteCount(s), s);
}
