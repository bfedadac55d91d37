namespace GpuNtk.Checkpoints;

/// <summary>One tensor of a checkpoint as listed by <see cref="CheckpointFiles.Inspect"/>.</summary>
public sealed record CheckpointTensorInfo(string Name, string DType, IReadOnlyList<long> Shape, long Bytes);

/// <summary>
/// The contents of a checkpoint file: its tensors (name, dtype, shape, bytes), its other values (numbers, strings of
/// a training container), its metadata, and where the state_dict sits in it.
/// </summary>
public sealed record CheckpointSummary(
    string Path,
    CheckpointFormat Format,
    IReadOnlyList<CheckpointTensorInfo> Tensors,
    IReadOnlyList<KeyValuePair<string, string>> Values,
    IReadOnlyDictionary<string, string> Metadata,
    string? StateDictPath)
{
    public long TotalBytes => Tensors.Sum(t => t.Bytes);
}
