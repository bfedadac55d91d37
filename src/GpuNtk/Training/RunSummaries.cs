using System.Globalization;
using GpuNtk.Data;
using GpuNtk.Training.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>The end of a run: final losses and accuracies on every example, and the one-paragraph messages.</summary>
internal static class RunSummaries
{
    public static TrainingSummary Create(TrainingStatus status, RunState run, string message, IReadOnlyDictionary<string, double> final) =>
        new(status, run.Step, TrainConfig.TimeAt(run.Step), run.WallSeconds, run.TrainingSeconds, run.TelemetrySeconds,
            1000 * run.TrainingSeconds / Math.Max(1, run.Step), run.Examples / Math.Max(1e-9, run.TrainingSeconds), message, final);

    public static string Diverged(string failure, RunState run, string checkpointPath, TrainConfig config) =>
        failure + ". " + (run.LastCheckpointStep is { } s
            ? $"The last good checkpoint is {checkpointPath} (step {s}): resume from it with a smaller LearningRate"
            : $"No checkpoint was written yet (the first comes at step {(config.CheckpointEvery > 0 ? Math.Min(config.CheckpointEvery, config.Steps) : config.Steps)})") +
        (double.IsFinite(run.EtaMax) && config.Optimizer.HasEtaMax() ? $" (η_max ≈ {run.EtaMax:G3} from the NTK at initialisation)." : ".");

    public static string Cancelled(RunState run, bool saved, string checkpointPath) =>
        $"cancelled at step {run.Step}; " + (saved ? $"saved to {checkpointPath}: resume to continue"
            : run.LastCheckpointStep is { } kept ? $"the checkpoint of step {kept} is kept: resume to continue" : "no checkpoint was written");

    public static string Completed(RunState run, IReadOnlyDictionary<string, double> final, long trainCount, long testCount, TrainConfig config) =>
        string.Create(CultureInfo.InvariantCulture,
            $"done: {run.Step} steps (t = {TrainConfig.TimeAt(run.Step):G6}) in {run.WallSeconds:0.0} s; " +
            $"final train loss {final["train_loss"]:0.0000}{Accuracy(final, "train")}, " +
            $"test loss {final["test_loss"]:0.0000}{Accuracy(final, "test")} (all {trainCount} / {testCount} examples); " +
            $"{1000 * run.TrainingSeconds / Math.Max(1, run.Step):0.00} ms/step, telemetry {100 * run.TelemetrySeconds / Math.Max(1e-9, run.TrainingSeconds):0.0}% of training time; ") +
        Theory(config);

    private static string Accuracy(IReadOnlyDictionary<string, double> final, string set) =>
        final.TryGetValue(set + "_acc", out var acc) ? string.Create(CultureInfo.InvariantCulture, $" acc {100 * acc:0.0}%") : "";

    /// <summary>Which theory the η_max and the NTK telemetry speak for, given the optimizer and the loss.</summary>
    public static string Theory(TrainConfig config) => config.Optimizer switch
    {
        _ when !config.Optimizer.HasEtaMax() && config.Optimizer != OptimizerKind.Flow =>
            $"{config.Optimizer.ToName()} is adaptive: η_max (a bound for SGD/momentum on MSE) does not apply; the NTK telemetry describes the network, not the optimizer",
        OptimizerKind.Flow => "gradient flow: the NTK ODE of the linearized model applies (no step-size bound)",
        _ when config.Loss != LossKind.Mse => "η_max is the MSE bound used as an estimate for cross-entropy at initialisation",
        _ when config.WeightDecay > 0 || config.Augment || config.ClipNorm is not null =>
            "η_max is the bound for SGD/momentum on MSE; weight decay, clipping or augmentation change the dynamics it describes",
        _ => "η_max and the linearized model are the theory of (momentum) gradient descent on MSE",
    };

    /// <summary>Losses and (classification data) accuracies on every training and test example, in chunks.</summary>
    public static Dictionary<string, double> Evaluate(nn.Module<Tensor, Tensor> module, LabeledData train, LabeledData test, TrainConfig config)
    {
        var result = new Dictionary<string, double>();
        foreach (var (name, set) in new[] { ("train", train), ("test", test) })
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var outputs = new List<Tensor>();
            for (long start = 0; start < set.Count; start += config.FullBatchChunk)
                outputs.Add(module.forward(set.Inputs.narrow(0, start, Math.Min(config.FullBatchChunk, set.Count - start))));
            var f = cat(outputs.ToArray());
            result[name + "_loss"] = Losses.Compute(config.Loss, f, set.Targets, set.Labels).to(ScalarType.Float64).item<double>();
            if (!set.IsRegression) result[name + "_acc"] = Losses.Accuracy(f, set.Labels).item<double>();
        }
        return result;
    }
}
