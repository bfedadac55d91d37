using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// The byte format of a training run's checkpoint (<see cref="TrainingCheckpoint"/> says what goes in it; PyTorch and
/// safetensors files are <c>Checkpoints/CheckpointFiles</c>): magic <c>GNTKCKP2</c>, an 8-byte little-endian header length, the SHA-256 of the
/// header (32 bytes), a UTF-8 JSON header (<c>{"meta": {…}, "tensors": [{"name", "dtype", "shape", "offset", "bytes",
/// "sha256"}]}</c>), then the raw little-endian tensor bytes in header order. Every byte is covered by a check (the magic,
/// the length through the header's checksum, each tensor through its own), so a flipped bit is an
/// <see cref="InvalidDataException"/> naming the file and the damaged part, never a silently different run.
/// Written atomically (temporary file in the same folder, flushed to disk, renamed over the target), so a crash leaves
/// either the old or the new checkpoint; with <c>previousPath</c> the replaced checkpoint is kept there (two generations).
/// </summary>
public static class TrainingCheckpointFile
{
    private static readonly byte[] s_magic = "GNTKCKP2"u8.ToArray();
    private static readonly byte[] s_magicV1 = "GNTKCKP1"u8.ToArray();
    private const int PrefixLength = 8 + 8 + 32;

    /// <summary>The name of the temporary file a process writes before renaming it over <paramref name="path"/>.</summary>
    public static string TemporaryPath(string path, int processId) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{processId}.tmp");

    public static void Write(string path, JsonObject meta, IEnumerable<(string Name, Tensor Value)> tensors, string? previousPath = null)
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
                ["offset"] = offset, ["bytes"] = bytes.LongLength, ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            });
            blobs.Add(bytes);
            offset += bytes.LongLength;
        }
        var header = Encoding.UTF8.GetBytes(new JsonObject { ["meta"] = meta.DeepClone(), ["tensors"] = entries }.ToJsonString());
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = TemporaryPath(path, Environment.ProcessId);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            stream.Write(s_magic);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, header.LongLength);
            stream.Write(length);
            stream.Write(SHA256.HashData(header));
            stream.Write(header);
            foreach (var blob in blobs) stream.Write(blob);
            stream.Flush(flushToDisk: true);
        }
        if (previousPath is not null && File.Exists(path)) FileGenerations.KeepAs(path, previousPath);
        File.Move(temp, path, overwrite: true);
        FileGenerations.SyncFolder(dir);
    }

    /// <summary>
    /// Reads and verifies the header and every tensor (CPU). Throws <see cref="InvalidDataException"/> naming the file
    /// and what is wrong when it is not a checkpoint, is truncated, or fails a checksum.
    /// </summary>
    public static (JsonObject Meta, Dictionary<string, Tensor> Tensors) Read(string path)
    {
        if (Directory.Exists(path)) throw new IOException($"{path} is a folder, not a checkpoint file: move it out of the way");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such checkpoint", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var root = ReadHeader(stream, path);
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            ReadTensors(stream, path, root, tensors);
            return (root["meta"] as JsonObject ?? throw Malformed(path, "it has no \"meta\" object"), tensors);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="path"/> is a complete checkpoint whose every checksum matches; the reason when not.</summary>
    public static string? Verify(string path)
    {
        try
        {
            var (_, tensors) = Read(path);
            foreach (var t in tensors.Values) t.Dispose();
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    private static JsonObject ReadHeader(FileStream stream, string path)
    {
        Span<byte> prefix = stackalloc byte[PrefixLength];
        int got = stream.ReadAtLeast(prefix, PrefixLength, throwOnEndOfStream: false);
        if (got >= 8 && prefix[..8].SequenceEqual(s_magicV1))
            throw new InvalidDataException($"{path} is a checkpoint of an earlier GpuNtk (GNTKCKP1, without checksums): finish that run with the version that started it");
        if (got < 8 || !prefix[..8].SequenceEqual(s_magic))
            throw new InvalidDataException($"{path} is not a GpuNtk training checkpoint (bad magic): the file is damaged or of another kind");
        if (got < PrefixLength) throw new InvalidDataException($"{path}: truncated checkpoint ({got} bytes, the fixed prefix alone is {PrefixLength})");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix[8..]);
        if (headerLength <= 0 || headerLength > stream.Length - PrefixLength || headerLength > 256 << 20)
            throw new InvalidDataException($"{path}: corrupt checkpoint: the header length {headerLength} does not fit the file of {stream.Length} bytes");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        if (!SHA256.HashData(header).AsSpan().SequenceEqual(prefix[16..]))
            throw new InvalidDataException($"{path}: corrupt checkpoint: the header fails its SHA-256 checksum (damaged on disk or in a copy)");
        try
        {
            return JsonNode.Parse(header) as JsonObject ?? throw Malformed(path, "the header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw Malformed(path, $"the header is not valid JSON ({e.Message})", e);
        }
    }

    private static void ReadTensors(FileStream stream, string path, JsonObject root, Dictionary<string, Tensor> tensors)
    {
        long dataStart = stream.Position, expectedOffset = 0;
        var entries = root["tensors"] as JsonArray ?? throw Malformed(path, "it has no \"tensors\" list");
        foreach (var node in entries)
        {
            var (name, dtype, shape, numel, offset, length, sha) = Entry(node, path);
            long elementSize = ElementSize(dtype, name, path);
            if (length % elementSize != 0 || numel != length / elementSize)
                throw Malformed(path, $"tensor '{name}' of shape [{string.Join(", ", shape)}] {dtype} cannot hold {length} bytes");
            if (offset != expectedOffset) throw Malformed(path, $"tensor '{name}' starts at {offset}, expected {expectedOffset} (tensors are stored in order)");
            if (dataStart + offset + length > stream.Length)
                throw new InvalidDataException($"{path}: tensor '{name}' runs past the end of the file; the checkpoint is truncated");
            if (tensors.ContainsKey(name)) throw Malformed(path, $"tensor '{name}' appears twice");
            var buffer = ArrayPool<byte>.Shared.Rent((int)length);
            try
            {
                var bytes = buffer.AsSpan(0, (int)length);
                stream.ReadExactly(bytes);
                if (!Convert.ToHexStringLower(SHA256.HashData(bytes)).Equals(sha, StringComparison.Ordinal))
                    throw new InvalidDataException($"{path}: corrupt checkpoint: tensor '{name}' fails its SHA-256 checksum (damaged on disk or in a copy)");
                var t = empty(shape, dtype);
                if (length > 0) t.bytes = bytes;
                tensors[name] = t;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            expectedOffset += length;
        }
    }

    /// <summary>One tensor entry of the header, every field checked (the header checksum passed, so this guards against hand edits and bugs).</summary>
    private static long ElementSize(ScalarType dtype, string name, string path)
    {
        try
        {
            using var probe = empty(0, dtype);
            return probe.element_size();
        }
        catch (Exception e)
        {
            throw Malformed(path, $"tensor '{name}' has the dtype {dtype}, which has no storage here ({e.Message})", e);
        }
    }

    private static (string Name, ScalarType DType, long[] Shape, long Numel, long Offset, long Length, string Sha) Entry(JsonNode? node, string path)
    {
        try
        {
            var o = node as JsonObject ?? throw Malformed(path, "a tensor entry is not a JSON object");
            var name = (string?)o["name"] ?? throw Malformed(path, "a tensor entry has no name");
            if (!Enum.TryParse<ScalarType>((string?)o["dtype"], out var dtype) || !Enum.IsDefined(dtype))
                throw Malformed(path, $"tensor '{name}' has an unknown dtype {o["dtype"]}");
            var shape = (o["shape"] as JsonArray ?? throw Malformed(path, $"tensor '{name}' has no shape")).Select(d => (long)d!).ToArray();
            long numel = 1;
            foreach (var d in shape)
                numel = d < 0 || d > Array.MaxLength ? throw Malformed(path, $"tensor '{name}' has a dimension {d}") : checked(numel * d);
            long offset = (long)o["offset"]!, length = (long)o["bytes"]!;
            if (offset < 0 || length < 0 || length > Array.MaxLength) throw Malformed(path, $"tensor '{name}' has offset {offset} and {length} bytes");
            var sha = (string?)o["sha256"] ?? throw Malformed(path, $"tensor '{name}' has no checksum");
            return (name, dtype, shape, numel, offset, length, sha);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw Malformed(path, $"a tensor entry is malformed ({e.GetType().Name}: {e.Message})", e);
        }
    }

    private static InvalidDataException Malformed(string path, string what, Exception? inner = null) =>
        new($"{path}: malformed checkpoint header: {what}", inner);
}
