using static TorchSharp.torch;

namespace GpuNtk.Checkpoints;

/// <summary>
/// The element types checkpoints may hold, with their names in each format: the PyTorch storage class
/// (<c>torch.FloatStorage</c>), the safetensors code (<c>F32</c>) and the short name users see (<c>float32</c>).
/// </summary>
public sealed record CheckpointDType(ScalarType ScalarType, string Name, string StorageClass, string SafeTensorsCode, int ElementSize)
{
    public static readonly IReadOnlyList<CheckpointDType> All =
    [
        new(ScalarType.Float64, "float64", "DoubleStorage", "F64", 8),
        new(ScalarType.Float32, "float32", "FloatStorage", "F32", 4),
        new(ScalarType.Float16, "float16", "HalfStorage", "F16", 2),
        new(ScalarType.BFloat16, "bfloat16", "BFloat16Storage", "BF16", 2),
        new(ScalarType.Int64, "int64", "LongStorage", "I64", 8),
        new(ScalarType.Int32, "int32", "IntStorage", "I32", 4),
        new(ScalarType.Int16, "int16", "ShortStorage", "I16", 2),
        new(ScalarType.Int8, "int8", "CharStorage", "I8", 1),
        new(ScalarType.Byte, "uint8", "ByteStorage", "U8", 1),
        new(ScalarType.Bool, "bool", "BoolStorage", "BOOL", 1),
    ];

    /// <summary>The entry for a TorchSharp dtype; throws <see cref="ArgumentException"/> for unsupported ones.</summary>
    public static CheckpointDType Of(ScalarType type) =>
        All.FirstOrDefault(d => d.ScalarType == type)
        ?? throw new ArgumentException($"dtype {type} cannot be stored in a checkpoint; supported: {SupportedNames}");

    /// <summary>The entry for a storage class name such as <c>FloatStorage</c> (module <c>torch</c>), or null.</summary>
    public static CheckpointDType? FromStorageClass(string name) => All.FirstOrDefault(d => d.StorageClass == name);

    /// <summary>The entry for a safetensors code such as <c>BF16</c>, or null.</summary>
    public static CheckpointDType? FromSafeTensorsCode(string code) => All.FirstOrDefault(d => d.SafeTensorsCode == code);

    public static string SupportedNames => string.Join(", ", All.Select(d => d.Name));

    public override string ToString() => Name;
}
