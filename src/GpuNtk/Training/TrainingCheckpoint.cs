using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Reads and writes a run's checkpoint (<see cref="CheckpointFile"/> container): meta = format, step, time, the
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
        CheckpointFile.Write(path, meta, parts.SelectMany(p => p.Save().Select(t => (p.Prefix + t.Name, t.Value))).ToList());
        run.LastCheckpointStep = run.Step;
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
