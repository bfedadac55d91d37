using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GpuNtk.Data;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// The training engine: any <c>nn.Module&lt;Tensor, Tensor&gt;</c> whose output for one example depends on that example
/// only (no BatchNorm in training mode), trained on a labelled data set in memory on the module's device and dtype, with
/// the probe telemetry to the sinks, η_max at the start, divergence detection and atomic checkpoints in the output
/// folder from which <see cref="Run"/> with <c>resume</c> continues exactly. Made by <see cref="Trainer.Create"/>.
/// The configuration's <c>Arch</c>, <c>Data</c> and <c>InitFrom</c> are read by the spec factory only.
/// </summary>
public sealed class TrainingRun
{
    private readonly nn.Module<Tensor, Tensor> _module;
    private readonly LabeledData _train;
    private readonly LabeledData _test;
    private readonly TrainConfig _config;
    private readonly IReadOnlyList<ITelemetrySink> _sinks;
    private readonly ILogger _logger;
    private readonly TrainerHooks _hooks;
    private readonly string _description;

    internal TrainingRun(nn.Module<Tensor, Tensor> module, LabeledData train, LabeledData test, TrainConfig config, string outputDirectory,
        IReadOnlyList<ITelemetrySink> sinks, ILogger logger, TrainerHooks hooks, string description)
    {
        _module = module;
        _train = train;
        _test = test;
        _config = config;
        OutputDirectory = outputDirectory;
        _sinks = sinks;
        _logger = logger;
        _hooks = hooks;
        _description = description;
    }

    public string OutputDirectory { get; }
    public string CheckpointPath => Path.Combine(OutputDirectory, Trainer.CheckpointFileName);

    /// <summary>Runs to <c>Steps</c>, or with <paramref name="resume"/> continues from the checkpoint in the output folder.</summary>
    public TrainingSummary Run(bool resume = false, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (_config.BatchSize > _train.Count)
            throw new ArgumentException($"BatchSize {_config.BatchSize} is larger than the {_train.Count} training examples: use BatchSize 0 for full batch, or at most {_train.Count}");
        // One process per run folder; with the lock held, every other process's temporary file here is stale.
        using var folderLock = RunFolderLock.Acquire(OutputDirectory);
        StaleTemporaryFiles.Remove(OutputDirectory, _logger);
        CheckFolder(resume);
        var checkpoint = resume ? TrainingCheckpoint.Read(CheckpointPath) : default;
        try
        {
            // θ0 first: the telemetry and the linearized model are built around the module's initial parameters.
            if (resume) CheckpointPart.Module("theta0.", _module, CheckpointPath, buffers: false).Load(WithPrefix(checkpoint.Tensors, "theta0."));
            return RunFrom(checkpoint.Meta, checkpoint.Tensors, progress, cancellation);
        }
        finally
        {
            if (checkpoint.Tensors is not null) foreach (var t in checkpoint.Tensors.Values) t.Dispose();
        }
    }

    /// <summary>A fresh run needs a folder without an earlier run's checkpoint or metrics; a resume needs the checkpoint.</summary>
    private void CheckFolder(bool resume)
    {
        if (Directory.Exists(CheckpointPath))
            throw new IOException($"{CheckpointPath} is a folder, not a checkpoint file: move it out of the way");
        var metrics = Path.Combine(OutputDirectory, Trainer.MetricsJsonlFileName);
        if (!resume && File.Exists(CheckpointPath))
            throw new ArgumentException($"{OutputDirectory} already holds a run ({Trainer.CheckpointFileName}): resume it, or choose another output folder");
        if (!resume && File.Exists(metrics))
            throw new ArgumentException($"{OutputDirectory} already holds the metrics of an earlier run ({Trainer.MetricsJsonlFileName}) without a checkpoint: " +
                                        "choose another output folder, or delete that run's files to start over");
        if (resume && !File.Exists(CheckpointPath))
            throw new FileNotFoundException($"resume: {CheckpointPath} does not exist; " + (File.Exists(TrainingCheckpoint.PreviousPath(CheckpointPath))
                ? $"the previous checkpoint {TrainingCheckpoint.PreviousPath(CheckpointPath)} does: move it to {CheckpointPath} to resume from it"
                : "start the run without resuming"), CheckpointPath);
    }

    private TrainingSummary RunFrom(JsonObject? meta, Dictionary<string, Tensor>? tensors, IProgress<TrainingProgress>? progress, CancellationToken cancellation)
    {
        using var session = new RunSession(_module, _train, _test, _config, _hooks, _config.LearningRate ?? 1, CheckpointPath);
        var run = meta is null ? Start(session) : Resume(meta, tensors!, session);
        var history = meta is null ? [] : ReadHistory(run.Step, TrainingCheckpoint.ReadConfig(meta, CheckpointPath).LogEvery);
        File.WriteAllText(Path.Combine(OutputDirectory, "config.json"), _config.ToJson());
        foreach (var sink in _sinks) sink.Begin(new TelemetryRun(OutputDirectory, _config, _description, run.Step, history));
        TrainingLoop? loop = null;
        loop = new TrainingLoop(_config, session, run, _train, tensors?["batch_loss_sum"], _sinks, () => Save(run, session, loop!.LossSum), _logger);
        using (loop)
        {
            if (meta is null) run.ReferenceLoss = loop.Measure(double.NaN)[Metric.TrainLoss];
            var outcome = loop.Run(progress, cancellation);
            var summary = Conclude(outcome, run, session, loop);
            foreach (var sink in _sinks) sink.End(summary);
            return summary;
        }
    }

    /// <summary>A fresh run: λ_max of the NTK on the probe, η_max where it applies, and the learning rate.</summary>
    private RunState Start(RunSession session)
    {
        var run = new RunState();
        bool measure = _config.MeasureEtaMax && !(_config.Optimizer == OptimizerKind.Flow && _config.LearningRate is not null);
        if (measure)
        {
            var watch = Stopwatch.StartNew();
            var probe = session.ProbeTrain;
            int n = ProbeSizes.EtaMaxExamples(_module, probe.Inputs);
            run.LambdaMax = LearningRateSafety.LargestNtkEigenvalue(_module, probe.Inputs.narrow(0, 0, n), seed: _config.Seed);
            // η_max is the linear-model bound of (momentum) gradient descent; for flow the GD value sets the default rate.
            var kind = _config.Optimizer.HasEtaMax() ? _config.Optimizer : OptimizerKind.Sgd;
            run.EtaMax = LearningRateSafety.MaxLearningRate(run.LambdaMax, n, probe.Outputs, _config.Loss, kind, _config.Momentum);
            _logger.LogInformation("λ_max of the NTK on {Examples}: {Lambda:G4} → η_max ≈ {EtaMax:G4} for {Optimizer}/{Loss}{Applies} ({Seconds:0.0} s)",
                n == probe.Count ? $"the {n}-example training probe"
                    : $"the first {n} examples of the {probe.Count}-example training probe (the forward-pass cost sets how many)", run.LambdaMax, run.EtaMax, kind.ToName(), _config.Loss.ToName(),
                _config.Optimizer.HasEtaMax() ? "" : $" (a reference only: the bound is for SGD/momentum, not {_config.Optimizer.ToName()})", watch.Elapsed.TotalSeconds);
        }
        run.LearningRate = _config.LearningRate ?? (_config.Optimizer is OptimizerKind.Adam or OptimizerKind.AdamW
            ? TrainConfig.DefaultAdamLearningRate : _config.LearningRateFraction * run.EtaMax);
        if (_config.LearningRate is null)
            _logger.LogInformation("learning rate {Lr:G4} ({How})", run.LearningRate, _config.Optimizer is OptimizerKind.Adam or OptimizerKind.AdamW
                ? "Adam's default" : $"{_config.LearningRateFraction}·η_max");
        WarnAboveEtaMax(run);
        return run;
    }

    private void WarnAboveEtaMax(RunState run)
    {
        if (_config.Optimizer.HasEtaMax() && run.LearningRate > run.EtaMax)
            _logger.LogWarning("LearningRate {Lr:G4} is above η_max ≈ {EtaMax:G4} = 2·N·O/λ_max{Factor}: full-batch training at this rate diverges, and SGD likely does too",
                run.LearningRate, run.EtaMax, _config.Optimizer switch
                {
                    OptimizerKind.Momentum => "·(1+β)",
                    OptimizerKind.Nesterov => "·(1+β)/(1+2β)",
                    _ => "",
                });
    }

    private RunState Resume(JsonObject meta, Dictionary<string, Tensor> tensors, RunSession session)
    {
        var saved = TrainingCheckpoint.ReadConfig(meta, CheckpointPath);
        if (saved.WithResumableSettingsOf(_config).ToJson() != _config.ToJson())
            throw new ArgumentException($"{CheckpointPath} was written with a different configuration; resume with the checkpoint's own options " +
                                        "(only Steps, LogEvery, CheckpointEvery, LearningRate and ExplosionFactor may change). Saved configuration: " + saved.ToJson());
        var run = TrainingCheckpoint.Load(meta, tensors, session.Parts);
        if (run.Step > _config.Steps) throw new ArgumentException($"{CheckpointPath} is at step {run.Step}, beyond Steps {_config.Steps}");
        if (_config.LearningRate is { } lr && lr != run.LearningRate)
        {
            _logger.LogInformation("learning rate changed on resume: {Old:G4} → {New:G4}", run.LearningRate, lr);
            run.LearningRate = lr;
        }
        WarnAboveEtaMax(run);
        _logger.LogInformation("resumed from {Path} at step {Step}", CheckpointPath, run.Step);
        return run;
    }

    /// <summary>The summary for the outcome; a cancelled run saves its current step first when its state is consistent.</summary>
    private TrainingSummary Conclude(LoopOutcome outcome, RunState run, RunSession session, TrainingLoop loop)
    {
        if (outcome.Failure is not null)
        {
            // Reported once, by the sinks' End (the CLI's LoggerSink prints it).
            var message = RunSummaries.Diverged(outcome.Failure, run, CheckpointPath, _config);
            return RunSummaries.Create(TrainingStatus.Diverged, run, message, new Dictionary<string, double>());
        }
        if (run.Step < _config.Steps)
        {
            bool saved = !outcome.Interrupted && !loop.Diverged(checkParameters: true);
            if (saved && run.LastCheckpointStep != run.Step) Save(run, session, loop.LossSum);
            return RunSummaries.Create(TrainingStatus.Cancelled, run, RunSummaries.Cancelled(run, saved, CheckpointPath), new Dictionary<string, double>());
        }
        var final = RunSummaries.Evaluate(_module, _train, _test, _config);
        return RunSummaries.Create(TrainingStatus.Completed, run, RunSummaries.Completed(run, final, _train.Count, _test.Count, _config), final);
    }

    /// <summary>
    /// The rows a resume from step <paramref name="step"/> continues: torn lines are skipped with a warning; a missing
    /// file or missing rows are reported, not made up (the rows of the lost steps are not recomputed).
    /// </summary>
    private IReadOnlyList<MetricsRow> ReadHistory(long step, int logEvery)
    {
        var jsonl = Path.Combine(OutputDirectory, Trainer.MetricsJsonlFileName);
        if (!File.Exists(jsonl))
        {
            if (step > 0)
                _logger.LogWarning("{Path} is missing though the checkpoint is at step {Step}: the rows of steps 0–{Step} are lost and the file restarts at step {Step} " +
                                   "(restore it from a backup before resuming to keep them)", jsonl, step, step, step);
            return [];
        }
        var (rows, notes) = MetricsLog.ReadJsonlThrough(jsonl, step);
        foreach (var note in notes) _logger.LogWarning("{Note}", note);
        // Rows come at step 0 and at most LogEvery steps apart; the last one is within LogEvery steps of the checkpoint.
        long previous = -1;
        (long From, long To)? gap = null;
        foreach (var row in rows)
        {
            if (previous < 0 ? row.Step != 0 : row.Step - previous > logEvery)
            {
                gap = (Math.Max(previous, 0), row.Step);
                break;
            }
            previous = row.Step;
        }
        if (gap is null && (previous < 0 || step - previous >= logEvery)) gap = (Math.Max(previous, 0), step);
        if (gap is { } g)
            _logger.LogWarning("{Path}: the rows between steps {From} and {To} are missing (logged every {LogEvery} steps): they are lost, not recomputed",
                jsonl, g.From, g.To, logEvery);
        return rows;
    }

    private void Save(RunState run, RunSession session, Tensor lossSum) =>
        TrainingCheckpoint.Save(CheckpointPath, _config, run, session.Parts.Append(new CheckpointPart("", () => [("batch_loss_sum", lossSum)], _ => { })));

    private static Dictionary<string, Tensor> WithPrefix(Dictionary<string, Tensor> tensors, string prefix) =>
        tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
}
