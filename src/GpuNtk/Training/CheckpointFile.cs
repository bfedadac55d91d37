using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// The trainer's checkpoint container: magic <c>GNTKCKP1</c>, an 8-byte little-endian header length, a UTF-8 JSON
/// header (<c>{"meta": {…}, "tensors": [{"name", "dtype", "shape", "offset", "bytes"}]}</c>), then the raw
/// little-endian tensor bytes. Self-describing, readable from any language, written atomically (temporary file in the
/// same folder, flushed to disk, renamed over the target), so a crash leaves either the old or the new checkpoint.
/// </summary>
public static class CheckpointFile
{
    private static readonly byte[] s_magic = "GNTKCKP1"u8.ToArray();

    public static void Write(string path, JsonObject meta, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var entries = new JsonArray();
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, value) in tensors)
        {
            using var host = value.detach().cpu().contiguous();
            var bytes = host.numel() == 0 ? [] : host.bytes.ToArray();
            entries.Add(new JsonObject
            {
                ["name"] = name, ["dtype"] = host.dtype.ToString(), ["shape"] = new JsonArray(host.shape.Select(d => JsonValue.Create(d)).ToArray<JsonNode?>()),
                ["offset"] = offset, ["bytes"] = bytes.LongLength,
            });
            blobs.Add(bytes);
            offset += bytes.LongLength;
        }
        var header = Encoding.UTF8.GetBytes(new JsonObject { ["meta"] = meta.DeepClone(), ["tensors"] = entries }.ToJsonString());
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            stream.Write(s_magic);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, header.LongLength);
            stream.Write(length);
            stream.Write(header);
            foreach (var blob in blobs) stream.Write(blob);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads the header and every tensor (CPU). Throws <see cref="InvalidDataException"/> naming the file when it is not a checkpoint or is truncated.</summary>
    public static (JsonObject Meta, Dictionary<string, Tensor> Tensors) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such checkpoint", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 16 || !bytes.AsSpan(0, 8).SequenceEqual(s_magic))
            throw new InvalidDataException($"{path} is not a GpuNtk training checkpoint (bad magic)");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        if (headerLength <= 0 || 16 + headerLength > bytes.Length) throw new InvalidDataException($"{path}: truncated checkpoint header");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(bytes.AsSpan(16, (int)headerLength))?.AsObject() ?? throw new InvalidDataException($"{path}: empty checkpoint header");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: corrupt checkpoint header ({e.Message})", e);
        }
        long dataStart = 16 + headerLength;
        var tensors = new Dictionary<string, Tensor>();
        foreach (var node in root["tensors"]!.AsArray())
        {
            var name = (string)node!["name"]!;
            var dtype = Enum.Parse<ScalarType>((string)node["dtype"]!);
            var shape = node["shape"]!.AsArray().Select(d => (long)d!).ToArray();
            long offset = (long)node["offset"]!, length = (long)node["bytes"]!;
            if (dataStart + offset + length > bytes.LongLength)
                throw new InvalidDataException($"{path}: tensor '{name}' runs past the end of the file; the checkpoint is truncated");
            var t = empty(shape, dtype);
            if (length > 0) t.bytes = bytes.AsSpan((int)(dataStart + offset), (int)length);
            tensors[name] = t;
        }
        return (root["meta"]!.AsObject(), tensors);
    }
}
