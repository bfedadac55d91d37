using System.Text.Json;
using System.Text.Json.Serialization;
using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// <c>OUT.npy.tiles/layout.json</c>: the <see cref="KernelLayout"/> every worker of one kernel file must agree on. The
/// first worker to arrive publishes it by an atomic no-replace rename; every other one (and every rerun) compares its
/// own layout with the published one and refuses a mismatch, naming what differs.
/// </summary>
internal static class KernelLayoutFile
{
    public const string FileName = "layout.json";
    public const string Format = "gpuntk-kernel-tiles/1";

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    public sealed record Contents(
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("shape")] long[] Shape,
        [property: JsonPropertyName("dtype")] string DType,
        [property: JsonPropertyName("tile_size")] long TileSize,
        [property: JsonPropertyName("symmetric")] bool Symmetric,
        [property: JsonPropertyName("tiles")] int Tiles,
        [property: JsonPropertyName("parameters")] string Parameters);

    public static Contents From(KernelLayout layout) => new(Format, layout.Shape, DTypeName(layout.DType), layout.Tiling.TileSize,
        layout.Tiling.Symmetric, layout.Tiling.Tiles.Count, layout.Parameters);

    /// <summary>The layout recorded in <paramref name="folder"/>.</summary>
    public static KernelLayout Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: this is not a kernel file written tile by tile by gpuntk (or its .tiles folder was deleted)", path);
        Contents? c;
        try { c = JsonSerializer.Deserialize<Contents>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: unreadable ({e.Message}); delete the kernel file and its .tiles folder and start again", e); }
        if (c is null || c.Format != Format || c.Shape is not { Length: 2 or 4 })
            throw new InvalidDataException($"{path}: not a {Format} layout; delete the kernel file and its .tiles folder and start again");
        var dtype = c.DType switch
        {
            "float32" => ScalarType.Float32,
            "float64" => ScalarType.Float64,
            _ => throw new InvalidDataException($"{path}: dtype {c.DType} is not float32 or float64"),
        };
        var tiling = new KernelTiling(c.Shape[0], c.Shape[1], c.TileSize, c.Symmetric);
        return new KernelLayout(tiling, c.Shape.Length == 4 ? c.Shape[2] : null, dtype, c.Parameters);
    }

    /// <summary>Publishes <paramref name="layout"/> unless a layout is already there; then checks they agree.</summary>
    public static void PublishOrCheck(string folder, KernelLayout layout, string kernelPath)
    {
        var path = Path.Combine(folder, FileName);
        var mine = From(layout);
        if (!File.Exists(path))
        {
            var temp = Path.Combine(folder, $".{FileName}.{Environment.MachineName}.{Environment.ProcessId}.tmp");
            File.WriteAllText(temp, JsonSerializer.Serialize(mine, s_json));
            AtomicFile.PublishOrDiscard(temp, path);
        }
        var theirs = From(Read(folder));
        var differences = new List<string>();
        if (!theirs.Shape.SequenceEqual(mine.Shape)) differences.Add($"shape [{string.Join(", ", theirs.Shape)}] vs [{string.Join(", ", mine.Shape)}]");
        if (theirs.DType != mine.DType) differences.Add($"dtype {theirs.DType} vs {mine.DType}");
        if (theirs.TileSize != mine.TileSize) differences.Add($"tile size {theirs.TileSize} vs {mine.TileSize} (same memory budget or tile size on every worker)");
        if (theirs.Symmetric != mine.Symmetric) differences.Add($"symmetric {theirs.Symmetric} vs {mine.Symmetric}");
        if (theirs.Parameters != mine.Parameters) differences.Add($"parameters {theirs.Parameters} vs {mine.Parameters}");
        if (differences.Count > 0)
            throw new ArgumentException($"{kernelPath} was started by a run with other settings ({string.Join("; ", differences)}). " +
                                        $"Rerun with the same settings, or delete {kernelPath} and {folder} to start afresh");
    }

    public static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        _ => throw new ArgumentException($"kernel dtype {dtype}: use float32 or float64"),
    };
}
