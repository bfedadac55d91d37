using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Dynamics.Linearization;
using GpuNtk.Networks;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Trains a network from a <see cref="TrainConfig"/>: SGD, heavy-ball or Nesterov momentum on minibatches or the full
/// batch, or full-batch gradient flow by an ODE solver; telemetry on a fixed probe every <c>LogEvery</c> steps to the
/// sinks; learning-rate safety (η_max from λ_max of the NTK) and divergence detection; atomic checkpoints every
/// <c>CheckpointEvery</c> steps and at the end, from which <see cref="Run"/> with <c>resume</c> continues so that every
/// metric except the timings equals that of an uninterrupted run.
/// </summary>
public sealed class Trainer
{
    public const string CheckpointFileName = "checkpoint.bin";
    public const string MetricsJsonlFileName = "metrics.jsonl";
    private const int FormatVersion = 1;

    private readonly TrainConfig _config;
    private readonly Device _device;
    private readonly string _out;
    private readonly IReadOnlyList<ITelemetrySink> _sinks;
    private readonly ILogger _logger;
    private readonly TrainerHooks _hooks;

    public Trainer(TrainConfig config, Device device, string outputDirectory, IReadOnlyList<ITelemetrySink> sinks, ILogger? logger = null, TrainerHooks? hooks = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        _config = config;
        _device = device;
        _out = outputDirectory;
        _sinks = sinks;
        _logger = logger ?? NullLogger.Instance;
        _hooks = hooks ?? new TrainerHooks();
    }

    public string CheckpointPath => Path.Combine(_out, CheckpointFileName);

    /// <summary>The configuration stored in the checkpoint at <paramref name="path"/>.</summary>
    public static TrainConfig ReadCheckpointConfig(string path)
    {
        var (meta, tensors) = CheckpointFile.Read(path);
        foreach (var t in tensors.Values) t.Dispose();
        return TrainConfig.FromJson((string)meta["config"]!);
    }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues from the checkpoint in the output folder) to <c>Steps</c>.</summary>
    public TrainingSummary Run(bool resume = false, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(_out);
        if (!resume && File.Exists(CheckpointPath))
            throw new ArgumentException($"{_out} already holds a run ({CheckpointFileName}): pass --resume to continue it, or choose another --out");
        if (resume && !File.Exists(CheckpointPath))
            throw new FileNotFoundException($"--resume: {CheckpointPath} does not exist; start the run without --resume", CheckpointPath);

        var spec = ArchitectureSpec.Parse(_config.Arch);
        using var network = NetworkFactory.Create(spec, _config.Seed, _config.DType, _device);
        var checkpoint = resume ? CheckpointFile.Read(CheckpointPath) : default;
        try
        {
            // θ0 first: the telemetry and the linearized model are built around the network's initial parameters.
            if (resume) CopyInto(network, checkpoint.Tensors, "theta0.");
            else if (_config.InitFrom is { } init)
            {
                if (!File.Exists(init)) throw new FileNotFoundException($"--init-from {init}: no such file", init);
                var loaded = CheckpointFiles.LoadInto(network, init, strict: true, convertDType: true);
                _logger.LogInformation("initial weights: {Count} tensors from {Path} (names: {Mapping})", loaded.Loaded.Count, init, loaded.Mapping);
            }
            return RunWith(resume, checkpoint, spec, network, progress, cancellation);
        }
        finally
        {
            if (checkpoint.Tensors is not null) foreach (var t in checkpoint.Tensors.Values) t.Dispose();
        }
    }

    private TrainingSummary RunWith(bool resume, (JsonObject Meta, Dictionary<string, Tensor> Tensors) checkpoint, ArchitectureSpec spec, Network network,
        IProgress<TrainingProgress>? progress, CancellationToken cancellation)
    {
        using var data = DatasetLoader.Load(_config.Data, spec.Outputs, _config.DType, _device, _logger);
        using var probeTrain = ProbeSubset(data.Train, _config.ProbeTrain, _config.Seed + 101);
        using var probeTest = ProbeSubset(data.Test, _config.ProbeTest, _config.Seed + 202);
        var companion = _config.Linearize ? (_hooks.Linearize ?? (n => LinearizedModel.Create(n)))(network) : null;
        using var telemetry = new ProbeTelemetry(network, probeTrain, probeTest, _config.Loss, _config.NtkProbe, companion);
        var models = new List<TrainedModel> { new("model", network, _config) };
        if (companion is not null) models.Add(new TrainedModel("linearized", companion, _config));
        using var sampler = new MinibatchSampler(data.Train.Count, _config.BatchSize == 0 ? data.Train.Count : _config.BatchSize, _config.Seed + 303, _device);
        var run = new RunState();
        try
        {
            var description = $"{spec} on {data.Describe()}; {Describe(_config)}";
            _logger.LogInformation("{Description}", description);
            IReadOnlyList<MetricsRow> history = [];
            if (resume)
            {
                LoadCheckpoint(checkpoint.Meta, checkpoint.Tensors, run, models, sampler, telemetry);
                var jsonl = Path.Combine(_out, MetricsJsonlFileName);
                history = File.Exists(jsonl) ? JsonlSink.Read(jsonl).Where(r => r.Step <= run.Step).ToList() : [];
            }
            else if (_config.Optimizer != OptimizerKind.Flow) CheckLearningRate(network, probeTrain, run);
            File.WriteAllText(Path.Combine(_out, "config.json"), _config.ToJson());
            foreach (var sink in _sinks) sink.Begin(new TelemetryRun(_out, _config, description, run.Step, history));

            using var flow = _config.Optimizer == OptimizerKind.Flow
                ? new FlowStepper(models, data.Train, _config, TrainConfig.TimeAt(run.Step), run.FlowStepSize > 0 ? run.FlowStepSize : null)
                : null;
            var discrete = flow is null ? new DiscreteStepper(models, data.Train, _config, sampler) : null;
            long examplesPerStep = sampler.BatchSize;

            var clock = Stopwatch.StartNew();
            if (!resume)
            {
                var row0 = Measure(telemetry, run, double.NaN, clock);
                run.ReferenceLoss = row0[Metric.TrainLoss];
            }
            using var monitor = new DivergenceMonitor(run.ReferenceLoss, _config.ExplosionFactor, _device);
            var lossSum = run.BatchLossSum?.to(ScalarType.Float64, _device) ?? zeros(1, ScalarType.Float64, _device);
            MetricsRow? last = null;
            string? failure = null;
            bool interrupted = false;
            var segment = Stopwatch.StartNew();

            while (run.Step < _config.Steps && failure is null)
            {
                if (cancellation.IsCancellationRequested) break;
                long next = flow is null ? run.Step + 1 : NextBoundary(run.Step);
                using (var scope = NewDisposeScope())
                {
                    Tensor loss;
                    if (flow is not null)
                    {
                        try { loss = flow.AdvanceTo(TrainConfig.TimeAt(next), cancellation); }
                        catch (Exception e) when (e is ArithmeticException or InvalidOperationException)
                        {
                            failure = $"the gradient flow failed between t = {TrainConfig.TimeAt(run.Step):G6} and {TrainConfig.TimeAt(next):G6}: {e.Message}";
                            break;
                        }
                        catch (OperationCanceledException)
                        {
                            // The parameters hold an intermediate solver stage now: nothing consistent to save.
                            interrupted = true;
                            break;
                        }
                        run.Examples += (flow.FunctionEvaluations - run.FlowEvaluations) * data.Train.Count;
                        run.FlowEvaluations = flow.FunctionEvaluations;
                        run.FlowStepSize = flow.StepSize;
                        lossSum.add_(loss.to(ScalarType.Float64).reshape(1));
                        run.BatchLossCount++;
                    }
                    else
                    {
                        loss = discrete!.Step();
                        run.Examples += examplesPerStep;
                        lossSum.add_(loss.to(ScalarType.Float64).reshape(1));
                        run.BatchLossCount++;
                    }
                    monitor.Observe(loss);
                }
                run.Step = next;

                bool log = run.Step % _config.LogEvery == 0 || run.Step == _config.Steps;
                bool save = _config.CheckpointEvery > 0 && run.Step % _config.CheckpointEvery == 0 || run.Step == _config.Steps;
                // The device-side monitor is read only where the host waits anyway (a log row, a checkpoint, an adaptive
                // flow step): discrete steps queue without a host sync, and a divergence costs at most LogEvery steps.
                if (log || save || flow is not null)
                {
                    var (diverged, worst) = monitor.Check();
                    if (diverged)
                    {
                        failure = $"training diverged by step {run.Step} (t = {TrainConfig.TimeAt(run.Step):G6}): the training loss reached " +
                                  $"{worst.ToString("G4", CultureInfo.InvariantCulture)} (initial {run.ReferenceLoss:G4}, limit {monitor.Threshold:G4})";
                        break;
                    }
                }
                if (log || save)
                {
                    Synchronize();
                    run.TrainingSeconds += segment.Elapsed.TotalSeconds;
                    if (log)
                    {
                        var batchLoss = run.BatchLossCount > 0 ? lossSum.item<double>() / run.BatchLossCount : double.NaN;
                        last = Measure(telemetry, run, batchLoss, clock);
                        lossSum.zero_();
                        run.BatchLossCount = 0;
                        double probeLoss = last[Metric.TrainLoss];
                        if (!double.IsFinite(probeLoss) || probeLoss > monitor.Threshold)
                            failure = $"training diverged by step {run.Step} (t = {TrainConfig.TimeAt(run.Step):G6}): the probe's training loss is " +
                                      $"{probeLoss.ToString("G4", CultureInfo.InvariantCulture)} (initial {run.ReferenceLoss:G4}, limit {monitor.Threshold:G4})";
                    }
                    if (save && failure is null)
                    {
                        if (ParametersFinite(models)) SaveCheckpoint(run, models, sampler, telemetry, lossSum, clock);
                        else failure = $"training diverged by step {run.Step}: parameters became NaN or infinite";
                    }
                    segment.Restart();
                }
                progress?.Report(new TrainingProgress(run.Step, _config.Steps, clock.Elapsed.TotalSeconds, last));
            }

            Synchronize();
            run.TrainingSeconds += segment.Elapsed.TotalSeconds;
            TrainingStatus status;
            string message;
            var final = new Dictionary<string, double>();
            if (failure is not null)
            {
                status = TrainingStatus.Diverged;
                message = failure + ". " + (run.LastCheckpointStep is { } s
                    ? $"The last good checkpoint is {CheckpointPath} (step {s}): continue from it with --resume --lr <smaller>"
                    : $"No checkpoint was written yet (the first comes at step {FirstCheckpointStep()})") +
                    (double.IsFinite(run.EtaMax) ? $" (η_max ≈ {run.EtaMax:G3} from the NTK at initialisation)." : ".");
                _logger.LogError("{Message}", message);
            }
            else if (run.Step < _config.Steps)
            {
                status = TrainingStatus.Cancelled;
                var (diverged, _) = monitor.Check();
                diverged |= !interrupted && !ParametersFinite(models);
                bool saved = !diverged && !interrupted;
                if (saved && run.LastCheckpointStep != run.Step) SaveCheckpoint(run, models, sampler, telemetry, lossSum, clock);
                message = $"cancelled at step {run.Step}; " + (saved ? $"saved to {CheckpointPath}: continue with --resume"
                    : run.LastCheckpointStep is { } kept ? $"the checkpoint of step {kept} is kept: continue with --resume" : "no checkpoint was written");
            }
            else
            {
                status = TrainingStatus.Completed;
                final = Evaluate(network, data);
                message = string.Create(CultureInfo.InvariantCulture,
                    $"done: {run.Step} steps (t = {TrainConfig.TimeAt(run.Step):G6}) in {run.WallSeconds + clock.Elapsed.TotalSeconds:0.0} s; " +
                    $"final train loss {final["train_loss"]:0.0000} acc {100 * final["train_acc"]:0.0}%, " +
                    $"test loss {final["test_loss"]:0.0000} acc {100 * final["test_acc"]:0.0}% (all {data.Train.Count} / {data.Test.Count} examples); " +
                    $"{1000 * run.TrainingSeconds / Math.Max(1, run.Step):0.00} ms/step, telemetry {100 * run.TelemetrySeconds / Math.Max(1e-9, run.TrainingSeconds):0.0}% of training time");
            }
            lossSum.Dispose();
            var summary = new TrainingSummary(status, run.Step, TrainConfig.TimeAt(run.Step), run.WallSeconds + clock.Elapsed.TotalSeconds,
                run.TrainingSeconds, run.TelemetrySeconds, 1000 * run.TrainingSeconds / Math.Max(1, run.Step),
                run.Examples / Math.Max(1e-9, run.TrainingSeconds), message, final);
            foreach (var sink in _sinks) sink.End(summary);
            return summary;
        }
        finally
        {
            foreach (var m in models) m.Dispose();
            if (companion is not null) companion.Dispose();
            run.BatchLossSum?.Dispose();
        }
    }

    /// <summary>Mutable bookkeeping of a run, saved in checkpoints.</summary>
    private sealed class RunState
    {
        public long Step;
        public long Examples;
        public double WallSeconds;
        public double TrainingSeconds;
        public double TelemetrySeconds;
        public double ReferenceLoss = double.NaN;
        public double LambdaMax = double.NaN;
        public double EtaMax = double.NaN;
        public long BatchLossCount;
        public Tensor? BatchLossSum;
        public double FlowStepSize;
        public long FlowEvaluations;
        public long? LastCheckpointStep;
    }

    private long NextBoundary(long step)
    {
        long next = (step / _config.LogEvery + 1) * _config.LogEvery;
        if (_config.CheckpointEvery > 0) next = Math.Min(next, (step / _config.CheckpointEvery + 1) * _config.CheckpointEvery);
        return Math.Min(next, _config.Steps);
    }

    private long FirstCheckpointStep() => _config.CheckpointEvery > 0 ? Math.Min(_config.CheckpointEvery, _config.Steps) : _config.Steps;

    private MetricsRow Measure(ProbeTelemetry telemetry, RunState run, double batchLoss, Stopwatch clock)
    {
        var watch = Stopwatch.StartNew();
        var row = new MetricsRow(run.Step)
            .Add(Metric.Step, run.Step)
            .Add(Metric.Time, TrainConfig.TimeAt(run.Step))
            .Add(Metric.WallSeconds, run.WallSeconds + clock.Elapsed.TotalSeconds)
            .Add(Metric.ExamplesPerSecond, run.Step == 0 || run.TrainingSeconds <= 0 ? double.NaN : run.Examples / run.TrainingSeconds)
            .Add(Metric.BatchLoss, batchLoss);
        telemetry.Measure(row);
        Synchronize();
        run.TelemetrySeconds += watch.Elapsed.TotalSeconds;
        foreach (var sink in _sinks) sink.Write(row);
        return row;
    }

    private void CheckLearningRate(Network network, LabeledData probe, RunState run)
    {
        var watch = Stopwatch.StartNew();
        run.LambdaMax = LearningRateSafety.LargestNtkEigenvalue(network, probe.Inputs, seed: _config.Seed);
        run.EtaMax = LearningRateSafety.MaxLearningRate(run.LambdaMax, probe.Count, probe.Outputs, _config.Loss, _config.Optimizer, _config.Momentum);
        _logger.LogInformation("λ_max of the NTK on the {N}-example training probe: {Lambda:G4} → η_max ≈ {EtaMax:G4} for {Optimizer}/{Loss} ({Seconds:0.0} s)",
            probe.Count, run.LambdaMax, run.EtaMax, _config.Optimizer.ToName(), _config.Loss.ToName(), watch.Elapsed.TotalSeconds);
        if (_config.LearningRate > run.EtaMax)
            _logger.LogWarning("--lr {Lr:G4} is above η_max ≈ {EtaMax:G4} = 2·N·O/λ_max{Factor}: full-batch training at this rate diverges, and SGD likely does too",
                _config.LearningRate, run.EtaMax, _config.Optimizer switch
                {
                    OptimizerKind.Momentum => "·(1+β)",
                    OptimizerKind.Nesterov => "·(1+β)/(1+2β)",
                    _ => "",
                });
    }

    private Dictionary<string, double> Evaluate(Network network, PreparedData data)
    {
        var result = new Dictionary<string, double>();
        foreach (var (name, set) in new[] { ("train", data.Train), ("test", data.Test) })
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var outputs = new List<Tensor>();
            for (long start = 0; start < set.Count; start += _config.FullBatchChunk)
                outputs.Add(network.forward(set.Inputs.narrow(0, start, Math.Min(_config.FullBatchChunk, set.Count - start))));
            var f = cat(outputs.ToArray());
            result[name + "_loss"] = Losses.Compute(_config.Loss, f, set.Targets, set.Labels).to(ScalarType.Float64).item<double>();
            result[name + "_acc"] = Losses.Accuracy(f, set.Labels).item<double>();
        }
        return result;
    }

    private static LabeledData ProbeSubset(LabeledData set, int count, long seed)
    {
        using var g = new Generator((ulong)seed);
        using var perm = randperm(set.Count, generator: g);
        using var idx = perm.narrow(0, 0, Math.Min(count, set.Count)).to(set.Labels.device);
        return set.Select(idx);
    }

    private static bool ParametersFinite(IReadOnlyList<TrainedModel> models)
    {
        using var scope = NewDisposeScope();
        var flags = models.SelectMany(m => m.Parameters).Select(p => p.detach().isfinite().all()).ToArray();
        return stack(flags).all().item<bool>();
    }

    private void Synchronize()
    {
        if (_device.type == DeviceType.CUDA) cuda.synchronize();
    }

    private static string Describe(TrainConfig c) =>
        string.Create(CultureInfo.InvariantCulture, $"{c.Optimizer.ToName()}") +
        (c.Optimizer.UsesMomentum() ? string.Create(CultureInfo.InvariantCulture, $" β={c.Momentum}") : "") +
        string.Create(CultureInfo.InvariantCulture, $" η={c.LearningRate} loss={c.Loss.ToName()} ") +
        (c.Optimizer == OptimizerKind.Flow
            ? (c.FlowStep is { } h ? $"fixed step {h}" : $"DP5(4) rtol={c.FlowRelativeTolerance} atol={c.FlowAbsoluteTolerance}")
            : c.BatchSize == 0 ? "full batch" : $"batch {c.BatchSize}") +
        $", {c.Steps} steps, {c.DType.ToString().ToLowerInvariant()}, seed {c.Seed}";

    private void SaveCheckpoint(RunState run, IReadOnlyList<TrainedModel> models, MinibatchSampler sampler, ProbeTelemetry telemetry, Tensor lossSum, Stopwatch clock)
    {
        var meta = new JsonObject
        {
            ["format"] = FormatVersion,
            ["step"] = run.Step,
            ["time"] = TrainConfig.TimeAt(run.Step),
            ["examples"] = run.Examples,
            ["wall_s"] = run.WallSeconds + clock.Elapsed.TotalSeconds,
            ["training_s"] = run.TrainingSeconds,
            ["telemetry_s"] = run.TelemetrySeconds,
            ["reference_loss"] = run.ReferenceLoss,
            ["lambda_max"] = double.IsFinite(run.LambdaMax) ? run.LambdaMax : null,
            ["eta_max"] = double.IsFinite(run.EtaMax) ? run.EtaMax : null,
            ["batch_loss_count"] = run.BatchLossCount,
            ["flow_step_size"] = run.FlowStepSize,
            ["flow_evaluations"] = run.FlowEvaluations,
            ["config"] = _config.ToJson(),
        };
        var tensors = new List<(string, Tensor)>();
        foreach (var m in models)
        {
            foreach (var (name, p) in m.Module.named_parameters().Where(p => p.parameter.requires_grad))
                tensors.Add(($"{m.Name}.{name}", p));
            if (m.Optimizer is { } opt)
                for (int i = 0; i < opt.Buffers.Count; i++)
                    if (opt.Buffers[i] is { } b) tensors.Add(($"optim.{m.Name}.{i}", b));
        }
        tensors.AddRange(sampler.SaveState().Select(s => ("sampler." + s.Name, s.Value)));
        tensors.AddRange(telemetry.SaveState());
        tensors.Add(("batch_loss_sum", lossSum));
        CheckpointFile.Write(CheckpointPath, meta, tensors);
        run.LastCheckpointStep = run.Step;
    }

    private void LoadCheckpoint(JsonObject meta, Dictionary<string, Tensor> tensors, RunState run, IReadOnlyList<TrainedModel> models,
        MinibatchSampler sampler, ProbeTelemetry telemetry)
    {
        if ((int?)meta["format"] != FormatVersion) throw new InvalidDataException($"{CheckpointPath}: unsupported checkpoint format {meta["format"]}");
        var saved = TrainConfig.FromJson((string)meta["config"]!);
        var comparable = saved.WithResumableSettingsOf(_config);
        if (comparable.ToJson() != _config.ToJson())
            throw new ArgumentException($"{CheckpointPath} was written with a different configuration; resume with the checkpoint's own options " +
                                        "(only --steps, --log-every, --checkpoint-every, --lr and --explode may change). Saved configuration: " + saved.ToJson());
        if (saved.LearningRate != _config.LearningRate)
            _logger.LogInformation("learning rate changed on resume: {Old:G4} → {New:G4}", saved.LearningRate, _config.LearningRate);
        run.Step = (long)meta["step"]!;
        if (run.Step > _config.Steps) throw new ArgumentException($"{CheckpointPath} is at step {run.Step}, beyond --steps {_config.Steps}");
        run.Examples = (long)meta["examples"]!;
        run.WallSeconds = (double)meta["wall_s"]!;
        run.TrainingSeconds = (double)meta["training_s"]!;
        run.TelemetrySeconds = (double)meta["telemetry_s"]!;
        run.ReferenceLoss = (double)meta["reference_loss"]!;
        run.LambdaMax = (double?)meta["lambda_max"] ?? double.NaN;
        run.EtaMax = (double?)meta["eta_max"] ?? double.NaN;
        run.BatchLossCount = (long)meta["batch_loss_count"]!;
        run.FlowStepSize = (double)meta["flow_step_size"]!;
        run.FlowEvaluations = 0;
        run.LastCheckpointStep = run.Step;
        run.BatchLossSum = tensors["batch_loss_sum"].clone();
        if (_config.LearningRate > run.EtaMax)
            _logger.LogWarning("--lr {Lr:G4} is above η_max ≈ {EtaMax:G4} (from the NTK at initialisation)", _config.LearningRate, run.EtaMax);

        foreach (var m in models)
        {
            CopyInto(m.Module, tensors, m.Name + ".");
            if (m.Optimizer is { } opt)
                opt.LoadBuffers(Enumerable.Range(0, opt.Parameters.Count)
                    .Select(i => tensors.TryGetValue($"optim.{m.Name}.{i}", out var b) ? b : null).ToArray());
        }
        sampler.LoadState(tensors.Where(kv => kv.Key.StartsWith("sampler.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["sampler.".Length..], kv => kv.Value));
        telemetry.LoadState(tensors);
        _logger.LogInformation("resumed from {Path} at step {Step}", CheckpointPath, run.Step);
    }

    /// <summary>Copies the checkpoint tensors named <c>prefix + parameter name</c> into the module's trainable parameters.</summary>
    private void CopyInto(nn.Module<Tensor, Tensor> module, Dictionary<string, Tensor> tensors, string prefix)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters().Where(p => p.parameter.requires_grad))
        {
            if (!tensors.TryGetValue(prefix + name, out var t))
                throw new InvalidDataException($"{CheckpointPath} has no tensor {prefix}{name}: it was written for another architecture");
            p.copy_(t);
        }
    }
}
