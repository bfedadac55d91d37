using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// Checkpoint files by path, whatever their format: PyTorch <c>torch.save</c> files (<c>.pt</c>, <c>.pth</c>, …) and
/// safetensors are told apart by their first bytes when reading and by the extension when writing. This is the entry
/// point for the CLI (<c>gpuntk checkpoint</c>); loading into a network is <c>Networks.StateDicts.StateDictLoader</c>.
/// </summary>
public static class CheckpointFiles
{
    /// <summary>The format of the file at <paramref name="path"/>, from its first bytes.</summary>
    public static CheckpointFormat DetectFormat(string path)
    {
        using var stream = File.OpenRead(path);
        return CheckpointFormats.Detect(stream);
    }

    /// <summary>
    /// The state_dict in the file: a safetensors file's tensors, or a torch.save file's state_dict (the file itself, or
    /// the dict of tensors under <c>state_dict</c>, <c>model</c>, … of a training checkpoint; see
    /// <see cref="CheckpointTree.FindStateDict"/>). The caller owns (disposes) the result.
    /// </summary>
    /// <exception cref="CheckpointFormatException">Unreadable, unsafe or unsupported file, or no state_dict in it.</exception>
    public static StateDict LoadStateDict(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        switch (DetectFormat(path))
        {
            case CheckpointFormat.SafeTensors:
                return SafeTensors.Load(path);
            case CheckpointFormat.TorchLegacy:
                throw CheckpointFormats.LegacyError(path);
            case CheckpointFormat.TorchZip:
                {
                    using var tree = TorchCheckpoint.Load(path);
                    return tree.ToStateDict();
                }
            default:
                throw UnknownFormat(path);
        }
    }

    /// <summary>
    /// Writes a state_dict in the format the extension names: <c>.safetensors</c>, or a torch.save zip file for
    /// <c>.pt</c>, <c>.pth</c>, <c>.bin</c>, <c>.ckpt</c>. <paramref name="metadata"/> goes into safetensors only.
    /// </summary>
    public static void SaveStateDict(string path, IReadOnlyDictionary<string, Tensor> stateDict, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        switch (CheckpointFormats.FromExtension(path))
        {
            case CheckpointFormat.SafeTensors: SafeTensors.Save(path, stateDict, metadata); break;
            case CheckpointFormat.TorchZip: TorchCheckpoint.SaveStateDict(path, stateDict); break;
            default:
                throw new ArgumentException(
                    $"{path}: cannot tell the format from the extension '{Path.GetExtension(path)}'; use .safetensors or .pt/.pth", nameof(path));
        }
    }

    /// <summary>
    /// Converts between formats (by the output's extension): the input's state_dict is written to
    /// <paramref name="output"/>. A training checkpoint's other entries (optimizer, epoch, …) are not carried over;
    /// the result says which were left out. safetensors metadata survives safetensors→safetensors only.
    /// </summary>
    public static CheckpointConversion Convert(string input, string output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        if (CheckpointFormats.FromExtension(output) == CheckpointFormat.Unknown)
            throw new ArgumentException($"{output}: use the extension .safetensors or .pt/.pth to choose the output format", nameof(output));
        var format = DetectFormat(input);
        string? path = null;
        IReadOnlyList<string> skipped = [];
        StateDict stateDict;
        if (format == CheckpointFormat.TorchZip)
        {
            using var tree = TorchCheckpoint.Load(input);
            path = tree.FindStateDict()?.Path;
            stateDict = tree.ToStateDict();
            if (!string.IsNullOrEmpty(path) && tree.Root is CheckpointDict root)
                skipped = root.Entries.Select(e => CheckpointDict.KeyText(e.Key)).Where(k => k != path.Split('.')[0]).ToList();
        }
        else
        {
            stateDict = LoadStateDict(input);
        }
        using (stateDict)
        {
            var metadata = stateDict.Metadata.Count > 0 ? stateDict.Metadata : new Dictionary<string, string> { ["format"] = "pt" };
            SaveStateDict(output, stateDict, metadata);
            if (stateDict.Metadata.Count > 0 && CheckpointFormats.FromExtension(output) == CheckpointFormat.TorchZip)
                skipped = [.. skipped, SafeTensors.MetadataKey]; // .pt state_dicts have no place for it
            return new CheckpointConversion(input, output, stateDict.Count, path, skipped);
        }
    }

    /// <summary>Lists a file's tensors (for safetensors from the header alone) and other values.</summary>
    public static CheckpointSummary Inspect(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var format = DetectFormat(path);
        switch (format)
        {
            case CheckpointFormat.SafeTensors:
                {
                    using var stream = File.OpenRead(path);
                    var header = SafeTensors.ReadHeader(stream, path);
                    var tensors = header.Entries.Select(e => new CheckpointTensorInfo(e.Name, e.DType.Name, e.Shape, e.ByteCount)).ToList();
                    return new CheckpointSummary(path, format, tensors, [], header.Metadata, "");
                }
            case CheckpointFormat.TorchZip:
                {
                    using var tree = TorchCheckpoint.Load(path);
                    var tensors = new List<CheckpointTensorInfo>();
                    var values = new List<KeyValuePair<string, string>>();
                    foreach (var (name, node) in tree.Leaves())
                    {
                        if (node is CheckpointTensor t)
                            tensors.Add(new CheckpointTensorInfo(name, t.DType.Name, t.Tensor.shape, t.Tensor.numel() * t.DType.ElementSize));
                        else
                            values.Add(new(name, node.Describe()));
                    }
                    return new CheckpointSummary(path, format, tensors, values, new Dictionary<string, string>(), tree.FindStateDict()?.Path);
                }
            case CheckpointFormat.TorchLegacy:
                throw CheckpointFormats.LegacyError(path);
            default:
                throw UnknownFormat(path);
        }
    }

    private static CheckpointFormatException UnknownFormat(string path) => new(
        $"{path}: neither a torch.save zip file (PyTorch ≥ 1.6) nor a safetensors file. " +
        "Remedy: save the weights in Python with torch.save(model.state_dict(), path) or safetensors.torch.save_file.");
}

/// <summary>What <see cref="CheckpointFiles.Convert"/> wrote: the tensor count, where the state_dict was in the input
/// (empty: the whole file), and the input's top-level entries it did not carry over.</summary>
public sealed record CheckpointConversion(string Input, string Output, int TensorCount, string? StateDictPath, IReadOnlyList<string> Skipped);
