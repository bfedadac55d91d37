using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// The safetensors format: a u64 little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>), then the
/// data buffer, tensors stored contiguous and little-endian. Reading validates the header size, every dtype, shape
/// and offset, and that the tensors tile the buffer exactly, before allocating anything.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The key of the string-to-string metadata map in the header.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>One tensor's header entry: offsets are relative to the start of the data buffer.</summary>
    public sealed record Entry(string Name, CheckpointDType DType, long[] Shape, long Begin, long End)
    {
        public long ByteCount => End - Begin;
    }

    /// <summary>A parsed header: tensors in header order, metadata, and where the data buffer starts in the file.</summary>
    public sealed record Header(IReadOnlyList<Entry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart);

    /// <summary>Reads every tensor of the file at <paramref name="path"/>, with its metadata.</summary>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors; the message says where.</exception>
    public static StateDict Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>Reads every tensor from a seekable stream; <paramref name="source"/> names it in error messages.</summary>
    public static StateDict Load(Stream stream, string source)
    {
        var header = ReadHeader(stream, source);
        var result = new StateDict { Metadata = header.Metadata };
        try
        {
            foreach (var e in header.Entries)
            {
                stream.Position = header.DataStart + e.Begin;
                long count = e.ByteCount / e.DType.ElementSize;
                using var flat = TensorBytes.Read(stream, count, e.DType, TensorBytes.NeedsSwap(bigEndian: false));
                result.Add(e.Name, flat.reshape(e.Shape));
            }
            return result;
        }
        catch (EndOfStreamException ex)
        {
            result.Dispose();
            throw new CheckpointFormatException($"{source}: the file ended early while reading tensor data; it is truncated.", ex);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Reads and validates the header only (no tensor data), e.g. to list a large file's contents.</summary>
    public static Header ReadHeader(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek) throw new ArgumentException("the stream must be seekable", nameof(stream));
        long fileLength = stream.Length - stream.Position;
        long start = stream.Position;
        if (fileLength < 8) throw Error(source, $"only {fileLength} bytes, too short for the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)MaxHeaderBytes || n > (ulong)(fileLength - 8))
            throw Error(source, $"the header length {n} exceeds the {fileLength - 8} bytes that follow it (limit {MaxHeaderBytes})");
        var json = new byte[n];
        stream.ReadExactly(json);
        long dataLength = fileLength - 8 - (long)n;
        var (entries, metadata) = Parse(json, source);
        ValidateLayout(entries, dataLength, source);
        return new Header(entries, metadata, start + 8 + (long)n);
    }

    /// <summary>Writes <paramref name="tensors"/> (and <paramref name="metadata"/>) as a safetensors file.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var temp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                Save(stream, tensors, metadata);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Writes safetensors to <paramref name="output"/>. The header lists tensors in the given order; the data is laid
    /// out by decreasing element size so every tensor is aligned to its element size (the header is padded to 8).
    /// </summary>
    public static void Save(Stream output, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("writing safetensors needs a little-endian machine");
        var items = tensors.Select(kv => (Name: kv.Key, Tensor: kv.Value, DType: CheckpointDType.Of(kv.Value.dtype))).ToList();
        if (items.Any(i => i.Name == MetadataKey)) throw new ArgumentException($"a tensor may not be named {MetadataKey}", nameof(tensors));
        var offsets = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long position = 0;
        foreach (var item in items.OrderByDescending(i => i.DType.ElementSize)) // stable: ties keep the given order
        {
            long bytes = item.Tensor.numel() * item.DType.ElementSize;
            offsets[item.Name] = (position, position + bytes);
            position += bytes;
        }
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            foreach (var item in items)
            {
                json.WriteStartObject(item.Name);
                json.WriteString("dtype", item.DType.SafeTensorsCode);
                json.WriteStartArray("shape");
                foreach (long d in item.Tensor.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[item.Name].Begin);
                json.WriteNumberValue(offsets[item.Name].End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
        output.Write(n);
        header.Position = 0;
        header.CopyTo(output);
        foreach (var item in items.OrderByDescending(i => i.DType.ElementSize))
            if (item.Tensor.numel() > 0) TensorBytes.ForEachChunk(item.Tensor, chunk => output.Write(chunk));
        output.Flush();
    }

    private static (List<Entry>, Dictionary<string, string>) Parse(byte[] json, string source)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw Error(source, "the header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (Exception e) when (e is JsonException or ArgumentException or DecoderFallbackException)
        {
            throw Error(source, $"the header is not valid JSON ({e.Message})", e);
        }
        try
        {
            return ParseDocument(doc, source);
        }
        catch (InvalidOperationException e) // a string with an escape that is not valid UTF-16 (lone surrogate)
        {
            throw Error(source, $"the header holds an invalid string ({e.Message})", e);
        }
        finally
        {
            doc.Dispose();
        }
    }

    private static (List<Entry>, Dictionary<string, string>) ParseDocument(JsonDocument doc, string source)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Error(source, "the header is not a JSON object");
        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (!seen.Add(prop.Name)) throw Error(source, $"the header names '{prop.Name}' twice");
            if (prop.Name == MetadataKey)
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw Error(source, $"{MetadataKey} is not an object");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String)
                        throw Error(source, $"{MetadataKey}.{m.Name} is not a string (safetensors metadata maps strings to strings)");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            entries.Add(ParseEntry(prop, source));
        }
        return (entries, metadata);
    }

    private static Entry ParseEntry(JsonProperty prop, string source)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw Error(source, $"tensor '{name}': its entry is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Error(source, $"tensor '{name}': missing dtype");
        string code = dt.GetString()!;
        var dtype = CheckpointDType.FromSafeTensorsCode(code) ?? throw Error(source,
            $"tensor '{name}': dtype {code} is not supported (supported: {string.Join(", ", CheckpointDType.All.Select(d => d.SafeTensorsCode))})");
        long[] shape = Integers(v, "shape", name, source);
        if (shape.Length > PickleAllowList.MaxDimensions) throw Error(source, $"tensor '{name}': {shape.Length} dimensions");
        long[] offsets = Integers(v, "data_offsets", name, source);
        if (offsets.Length != 2 || offsets[0] > offsets[1])
            throw Error(source, $"tensor '{name}': data_offsets must be [begin, end] with begin ≤ end");
        long bytes;
        try
        {
            long count = 1;
            foreach (long d in shape) count = checked(count * d);
            bytes = checked(count * dtype.ElementSize);
        }
        catch (OverflowException)
        {
            throw Error(source, $"tensor '{name}': shape [{string.Join(", ", shape)}] overflows");
        }
        if (bytes != offsets[1] - offsets[0])
            throw Error(source, $"tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype.SafeTensorsCode} needs {bytes} bytes " +
                                $"but data_offsets [{offsets[0]}, {offsets[1]}] span {offsets[1] - offsets[0]}");
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] Integers(JsonElement entry, string field, string name, string source)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Error(source, $"tensor '{name}': missing {field} array");
        var result = new List<long>();
        foreach (var x in array.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out long value) || value < 0)
                throw Error(source, $"tensor '{name}': {field} holds {x.GetRawText()}, not a non-negative integer");
            result.Add(value);
        }
        return [.. result];
    }

    private static void ValidateLayout(List<Entry> entries, long dataLength, string source)
    {
        long expected = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expected)
                throw Error(source, e.Begin < expected
                    ? $"tensor '{e.Name}' overlaps the previous tensor's data (offset {e.Begin} < {expected})"
                    : $"tensor '{e.Name}' starts at offset {e.Begin}, leaving a gap after {expected}");
            expected = e.End;
        }
        if (expected != dataLength)
            throw Error(source, expected > dataLength
                ? $"the header describes {expected} bytes of tensor data but only {dataLength} follow it (truncated file)"
                : $"{dataLength - expected} bytes of data follow the last tensor; the header does not describe them");
    }

    private static CheckpointFormatException Error(string source, string what, Exception? inner = null) =>
        new($"{source}: invalid safetensors file: {what}. Remedy: write the file again (safetensors.torch.save_file).", inner);
}
