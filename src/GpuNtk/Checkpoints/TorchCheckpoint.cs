using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Reads and writes PyTorch's <c>torch.save</c> zip format (PyTorch ≥ 1.6) without Python and without executing
/// anything: the pickle is read by <see cref="RestrictedUnpickler"/> against an allow-list of globals, and every
/// tensor is a checked view of a storage record. Tensors load on the CPU whatever device they were saved from.
/// </summary>
public static class TorchCheckpoint
{
    /// <summary>Reads the file at <paramref name="path"/> as a tree (state_dict, or a dict holding one, …).</summary>
    /// <exception cref="CheckpointFormatException">The file is not a readable, safe torch.save checkpoint; the message says why.</exception>
    public static CheckpointTree Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>Reads a checkpoint from a seekable stream; <paramref name="source"/> names it in error messages.</summary>
    public static CheckpointTree Load(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek) throw new ArgumentException("the stream must be seekable (copy it to a MemoryStream first)", nameof(stream));
        switch (CheckpointFormats.Detect(stream))
        {
            case CheckpointFormat.TorchZip: break;
            case CheckpointFormat.TorchLegacy: throw CheckpointFormats.LegacyError(source);
            case CheckpointFormat.SafeTensors:
                throw new CheckpointFormatException($"{source}: this is a safetensors file; read it with SafeTensors.Load (or CheckpointFiles).");
            default:
                throw new CheckpointFormatException(
                    $"{source}: not a PyTorch checkpoint (no zip signature; {stream.Length} bytes). " +
                    "Expected a file written by torch.save (PyTorch ≥ 1.6).");
        }
        using var zip = new TorchZipReader(stream, source);
        var pickle = zip.ReadRecord("data.pkl");
        var (value, _) = RestrictedUnpickler.Load(pickle, $"{source}: {zip.Prefix}data.pkl");
        var storages = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var builder = new CheckpointTreeBuilder(s => LoadStorage(zip, s, storages), source);
        try
        {
            var root = builder.Build(value);
            return new CheckpointTree(root, source, builder.Tensors);
        }
        catch
        {
            foreach (var t in builder.Tensors) t.Dispose();
            throw;
        }
        finally
        {
            foreach (var s in storages.Values) s.Dispose(); // the views keep the memory they use
        }
    }

    /// <summary>
    /// Writes <paramref name="stateDict"/> as a torch.save zip file that Python reads with
    /// <c>torch.load(path, weights_only=True)</c>. Tensors go to the CPU in their dtype; a tensor stored under several
    /// names (tied weights) is written once and comes back shared. Non-contiguous tensors are written contiguous.
    /// </summary>
    public static void SaveStateDict(string path, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(stateDict);
        var temp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                SaveStateDict(stream, stateDict, ArchiveName(path));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="stateDict"/> to <paramref name="output"/>; records go under folder <paramref name="archiveName"/>.</summary>
    public static void SaveStateDict(Stream output, IReadOnlyDictionary<string, Tensor> stateDict, string archiveName = "archive")
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(stateDict);
        using var scope = NewDisposeScope();
        var entries = new List<PickleWriter.TensorEntry>();
        var storages = new List<Tensor>();
        var tied = new Dictionary<(nint, ScalarType, string, string), int>();
        foreach (var (name, tensor) in stateDict)
        {
            var dtype = CheckpointDType.Of(tensor.dtype);
            var cpu = tensor.detach().cpu();
            string shape = string.Join(",", cpu.shape), strides = string.Join(",", cpu.stride());
            (nint, ScalarType, string, string)? identity =
                cpu.is_contiguous() && cpu.numel() > 0 ? (DataAddress(cpu), cpu.dtype, shape, strides) : null;
            if (identity is null || !tied.TryGetValue(identity.Value, out int index))
            {
                index = storages.Count;
                storages.Add(cpu.contiguous());
                if (identity is not null) tied[identity.Value] = index;
            }
            var layout = storages[index];
            entries.Add(new(name, index.ToString(CultureInfo.InvariantCulture), dtype, layout.numel(), 0, layout.shape, layout.stride()));
        }
        var zip = new TorchZipWriter(output);
        string prefix = archiveName + "/";
        zip.Add(prefix + "data.pkl", PickleWriter.StateDict(entries));
        zip.Add(prefix + "byteorder", Encoding.ASCII.GetBytes("little"));
        for (int i = 0; i < storages.Count; i++)
        {
            var s = storages[i];
            zip.Add(prefix + "data/" + i, s.numel() * s.element_size(), emit => TensorBytes.ForEachChunk(s, emit));
        }
        zip.Add(prefix + "version", Encoding.ASCII.GetBytes("3\n"));
        zip.Finish();
    }

    private static Tensor LoadStorage(TorchZipReader zip, PyStorage storage, Dictionary<string, Tensor> loaded)
    {
        if (loaded.TryGetValue(storage.Key, out var done)) return done;
        string record = "data/" + storage.Key;
        long length = zip.RecordLength(record);
        long expected;
        try { expected = checked(storage.Count * storage.DType.ElementSize); }
        catch (OverflowException) { throw zip.Error($"storage '{storage.Key}' declares an absurd size of {storage.Count} elements"); }
        if (length != expected)
            throw zip.Error($"record '{zip.Prefix}{record}' has {length} bytes but the pickle declares {storage.Count} " +
                            $"{storage.DType} elements ({expected} bytes)");
        using var stream = zip.OpenRecord(record);
        var tensor = TensorBytes.Read(stream, storage.Count, storage.DType, TensorBytes.NeedsSwap(zip.BigEndian));
        loaded[storage.Key] = tensor;
        return tensor;
    }

    private static unsafe nint DataAddress(Tensor contiguousCpu)
    {
        fixed (byte* p = contiguousCpu.bytes) return (nint)p;
    }

    /// <summary>The archive folder name PyTorch would use: the file name without extension, or "archive".</summary>
    private static string ArchiveName(string path)
    {
        var stem = Path.GetFileNameWithoutExtension(path);
        var clean = new string(stem.Where(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.').ToArray());
        return clean.Length == 0 ? "archive" : clean;
    }
}
