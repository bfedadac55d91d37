using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Reads and writes a run's checkpoint (<see cref="TrainingCheckpointFile"/> container): meta = format, step, time, the
/// <see cref="RunState"/> and the <see cref="TrainConfig"/> as JSON; tensors = every <see cref="CheckpointPart"/>'s.
/// </summary>
internal static class TrainingCheckpoint
{
    public const int FormatVersion = 2;

    public static void Save(string path, TrainConfig config, RunState run, IEnumerable<CheckpointPart> parts)
    {
        var meta = new JsonObject
        {
            ["format"] = FormatVersion,
            ["step"] = run.Step,
            ["time"] = TrainConfig.TimeAt(run.Step),
            ["run"] = JsonNode.Parse(run.ToJson()),
            ["config"] = config.ToJson(),
        };
        TrainingCheckpointFile.Write(path, meta, parts.SelectMany(p => p.Save().Select(t => (p.Prefix + t.Name, t.Value))).ToList(), PreviousPath(path));
        run.LastCheckpointStep = run.Step;
    }

    /// <summary>Where the checkpoint replaced by the latest one is kept (<c>checkpoint.prev.bin</c> beside <c>checkpoint.bin</c>).</summary>
    public static string PreviousPath(string path) => Path.Combine(Path.GetDirectoryName(path) ?? "", Path.GetFileNameWithoutExtension(path) + ".prev" + Path.GetExtension(path));

    /// <summary>Reads and verifies the checkpoint; a damaged one is an error that names the previous generation when that one is intact.</summary>
    public static (JsonObject Meta, Dictionary<string, Tensor> Tensors) Read(string path)
    {
        var kept = PreviousPath(path);
        if (!File.Exists(path) && !Directory.Exists(path) && File.Exists(kept))
            throw new FileNotFoundException($"{path} does not exist, the previous checkpoint {kept} does: move it to {path} to resume from it", path);
        try
        {
            return TrainingCheckpointFile.Read(path);
        }
        catch (InvalidDataException e)
        {
            var previous = PreviousPath(path);
            throw new InvalidDataException(e.Message + (File.Exists(previous) && TrainingCheckpointFile.Verify(previous) is null
                ? $". The previous checkpoint {previous} is intact: move it to {path} to resume from it (the rows past its step are recomputed)"
                : ". No intact previous checkpoint is kept: start the run again in a new output folder"), e);
        }
    }

    /// <summary>The saved configuration, for the caller to compare with its own (see <see cref="TrainConfig.WithResumableSettingsOf"/>).</summary>
    public static TrainConfig ReadConfig(JsonObject meta, string path)
    {
        if ((int?)meta["format"] != FormatVersion)
            throw new InvalidDataException($"{path}: checkpoint format {meta["format"]}, this version reads {FormatVersion}; finish the run with the version that started it");
        return TrainConfig.FromJson((string)meta["config"]!);
    }

    /// <summary>Restores every part from the checkpoint's tensors and returns its run state.</summary>
    public static RunState Load(JsonObject meta, IReadOnlyDictionary<string, Tensor> tensors, IEnumerable<CheckpointPart> parts)
    {
        var run = RunState.FromJson(meta["run"]!.ToJsonString());
        run.LastCheckpointStep = run.Step;
        foreach (var part in parts)
            part.Load(tensors.Where(kv => kv.Key.StartsWith(part.Prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[part.Prefix.Length..], kv => kv.Value));
        return run;
    }
}
