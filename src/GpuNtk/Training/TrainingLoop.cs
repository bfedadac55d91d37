using System.Diagnostics;
using System.Globalization;
using GpuNtk.Data;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>How a stepping loop ended: completed when <see cref="Failure"/> is null and the step reached the end.</summary>
internal readonly record struct LoopOutcome(string? Failure, bool Interrupted);

/// <summary>
/// The stepping loop of one run: steps (discrete or flow), the device-side divergence watch, telemetry rows every
/// <c>LogEvery</c> steps and checkpoints every <c>CheckpointEvery</c>, progress reports and cancellation.
/// </summary>
internal sealed class TrainingLoop : IDisposable
{
    private readonly TrainConfig _config;
    private readonly RunSession _session;
    private readonly RunState _run;
    private readonly LabeledData _train;
    private readonly IReadOnlyList<ITelemetrySink> _sinks;
    private readonly Action _save;
    private DivergenceMonitor _monitor = null!;
    private readonly Tensor _lossSum;
    private readonly FlowStepper? _flow;
    private readonly DiscreteStepper? _discrete;
    private readonly Device _device;
    private MetricsRow? _last;
    private readonly ILogger? _logger;
    private bool _companionDiverged;

    public TrainingLoop(TrainConfig config, RunSession session, RunState run, LabeledData train, Tensor? savedLossSum,
        IReadOnlyList<ITelemetrySink> sinks, Action save, ILogger? logger = null)
    {
        _logger = logger;
        _config = config;
        _session = session;
        _run = run;
        _train = train;
        _sinks = sinks;
        _save = save;
        _device = train.Inputs.device;
        _lossSum = savedLossSum?.to(ScalarType.Float64, _device).clone() ?? zeros(1, ScalarType.Float64, _device);
        if (config.Optimizer == OptimizerKind.Flow)
            _flow = new FlowStepper(session.Models, train, config, run.LearningRate, TrainConfig.TimeAt(run.Step), run.FlowStepSize > 0 ? run.FlowStepSize : null);
        else _discrete = new DiscreteStepper(session.Models, train, config, session.Sampler, session.Augmentation);
    }

    /// <summary>The running sum of minibatch losses since the last row (a checkpoint tensor).</summary>
    public Tensor LossSum => _lossSum;

    /// <summary>Whether the device-side monitor saw a NaN/Inf or explosion, or a parameter is not finite.</summary>
    public bool Diverged(bool checkParameters) => _monitor.Check().Diverged || checkParameters && !ParametersFinite();

    /// <summary>The limit of the divergence test (a multiple of the reference loss).</summary>
    public double Threshold => _monitor.Threshold;

    /// <summary>Steps to the end (or a divergence, a failure, a cancellation); the run's reference loss must be set.</summary>
    public LoopOutcome Run(IProgress<TrainingProgress>? progress, CancellationToken cancellation)
    {
        _monitor = new DivergenceMonitor(_run.ReferenceLoss, _config.ExplosionFactor, _device);
        var segment = Stopwatch.StartNew();
        while (_run.Step < _config.Steps)
        {
            if (cancellation.IsCancellationRequested) break;
            var (failure, interrupted) = Advance(cancellation);
            if (failure is not null || interrupted) return Finish(segment, new LoopOutcome(failure, interrupted));
            failure = AtBoundary(segment);
            if (failure is not null) return Finish(segment, new LoopOutcome(failure, false));
            progress?.Report(new TrainingProgress(_run.Step, _config.Steps, _run.SessionSeconds, _last));
        }
        return Finish(segment, new LoopOutcome(null, false));
    }

    private LoopOutcome Finish(Stopwatch segment, LoopOutcome outcome)
    {
        Synchronize();
        _run.TrainingSeconds += segment.Elapsed.TotalSeconds;
        return outcome;
    }

    /// <summary>One step (discrete) or one stretch of flow up to the next log or checkpoint boundary.</summary>
    private LoopOutcome Advance(CancellationToken cancellation)
    {
        long next = _flow is null ? _run.Step + 1 : NextBoundary(_run.Step);
        using var scope = NewDisposeScope();
        Tensor loss;
        if (_flow is not null)
        {
            try { loss = _flow.AdvanceTo(TrainConfig.TimeAt(next), cancellation); }
            catch (Exception e) when (e is ArithmeticException or InvalidOperationException)
            {
                return new($"the gradient flow failed between t = {TrainConfig.TimeAt(_run.Step):G6} and {TrainConfig.TimeAt(next):G6}: {e.Message}", false);
            }
            // The parameters hold an intermediate solver stage now: nothing consistent to save.
            catch (OperationCanceledException) { return new(null, true); }
            _run.Examples += (_flow.FunctionEvaluations - _run.FlowEvaluations) * _train.Count;
            _run.FlowEvaluations = _flow.FunctionEvaluations;
            _run.FlowStepSize = _flow.StepSize;
        }
        else
        {
            double rate = _run.LearningRate * LearningRateSchedule.Parse(_config.Schedule).At(_run.Step, _config.Steps);
            loss = _discrete!.Step(rate);
            _run.Examples += _session.Sampler.BatchSize;
        }
        _lossSum.add_(loss.to(ScalarType.Float64).reshape(1));
        _run.BatchLossCount++;
        _monitor.Observe(loss);
        _run.Step = next;
        return new(null, false);
    }

    /// <summary>At a log row or checkpoint step: the divergence checks, the row, the checkpoint. Returns a failure message or null.</summary>
    private string? AtBoundary(Stopwatch segment)
    {
        bool log = _run.Step % _config.LogEvery == 0 || _run.Step == _config.Steps;
        bool save = _config.CheckpointEvery > 0 && _run.Step % _config.CheckpointEvery == 0 || _run.Step == _config.Steps;
        // The device-side monitor is read only where the host waits anyway (a log row, a checkpoint, an adaptive flow
        // step): discrete steps queue without a host sync, and a divergence costs at most LogEvery steps.
        if (!(log || save || _flow is not null)) return null;
        var (diverged, worst) = _monitor.Check();
        if (diverged) return DivergedMessage("the training loss reached", worst);
        if (!(log || save)) return null;
        Synchronize();
        _run.TrainingSeconds += segment.Elapsed.TotalSeconds;
        string? failure = null;
        if (log)
        {
            _last = Measure(_run.BatchLossCount > 0 ? _lossSum.item<double>() / _run.BatchLossCount : double.NaN);
            _lossSum.zero_();
            _run.BatchLossCount = 0;
            double probeLoss = _last[Metric.TrainLoss];
            if (!double.IsFinite(probeLoss) || probeLoss > _monitor.Threshold) failure = DivergedMessage("the probe's training loss is", probeLoss);
        }
        if (failure is null) WatchCompanion();
        if (save && failure is null)
        {
            if (ParametersFinite()) _save();
            else failure = $"training diverged by step {_run.Step}: parameters became NaN or infinite";
        }
        segment.Restart();
        return failure;
    }

    private string DivergedMessage(string what, double value) =>
        $"training diverged by step {_run.Step} (t = {TrainConfig.TimeAt(_run.Step):G6}): {what} " +
        $"{value.ToString("G4", CultureInfo.InvariantCulture)} (initial {_run.ReferenceLoss:G4}, limit {_monitor.Threshold:G4})";

    /// <summary>One telemetry row (timings, batch loss, every probe metric) to every sink.</summary>
    public MetricsRow Measure(double batchLoss)
    {
        var watch = Stopwatch.StartNew();
        var row = new MetricsRow(_run.Step)
            .Add(Metric.Step, _run.Step)
            .Add(Metric.Time, TrainConfig.TimeAt(_run.Step))
            .Add(Metric.WallSeconds, _run.WallSeconds)
            .Add(Metric.ExamplesPerSecond, _run.Step == 0 || _run.TrainingSeconds <= 0 ? double.NaN : _run.Examples / _run.TrainingSeconds)
            .Add(Metric.BatchLoss, batchLoss);
        _session.Telemetry.Measure(row);
        Synchronize();
        _run.TelemetrySeconds += watch.Elapsed.TotalSeconds;
        foreach (var sink in _sinks) sink.Write(row);
        return row;
    }

    private long NextBoundary(long step)
    {
        long next = (step / _config.LogEvery + 1) * _config.LogEvery;
        if (_config.CheckpointEvery > 0) next = Math.Min(next, (step / _config.CheckpointEvery + 1) * _config.CheckpointEvery);
        return Math.Min(next, _config.Steps);
    }

    /// <summary>Whether the network's parameters are finite (the companion's are watched apart, <see cref="WatchCompanion"/>).</summary>
    private bool ParametersFinite() => Finite(_session.Models[0]);

    private static bool Finite(TrainedModel model)
    {
        using var scope = NewDisposeScope();
        return stack(model.Parameters.Select(p => p.detach().isfinite().all()).ToArray()).all().item<bool>();
    }

    /// <summary>
    /// The linearized companion can diverge where the network does not (a rate between the linear model's η_max and
    /// the network's edge of stability): that is reported once as the companion's, and the network trains on (the
    /// companion's lin_* columns are NaN from there).
    /// </summary>
    private void WatchCompanion()
    {
        if (_companionDiverged || _session.Models.Count < 2 || Finite(_session.Models[1])) return;
        _companionDiverged = true;
        _logger?.LogWarning("the linearized companion diverged by step {Step} (its parameters are NaN or infinite at learning rate {Lr:G4}): " +
                            "the network trains on; the linearization columns are NaN from here (Linearize = false drops the companion)", _run.Step, _run.LearningRate);
    }

    private void Synchronize()
    {
        if (_device.type == DeviceType.CUDA) cuda.synchronize();
    }

    public void Dispose()
    {
        _flow?.Dispose();
        _monitor?.Dispose();
        _lossSum.Dispose();
    }
}
