using System.Diagnostics;
using GpuNtk.Data;
using GpuNtk.Dynamics.Linearization;
using GpuNtk.Dynamics.Predictors;
using GpuNtk.Kernels.Autograd;
using GpuNtk.Networks;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// Runs a <see cref="LinearizationSweepConfig"/>: for every width and seed, the training engine trains the network and
/// its <see cref="LinearizedModel"/> from the same θ0 with the same full-batch gradient descent (MSE, conventions of
/// src/GpuNtk/Kernels/README.md) and its telemetry measures, over time, how far they drift apart (<see cref="SweepRecord"/>).
/// Theory (Lee et al. 2019, Theorem 2.1 and §3): all three scaling metrics are O(width^−1/2).
/// </summary>
public static class LinearizationSweep
{
    public static LinearizationSweepResult Run(LinearizationSweepConfig config, SweepData data, ScalarType dtype, Device device,
                                               ILogger? logger = null, IProgress<SweepRecord>? progress = null,
                                               CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        config.Validate();
        data.Validate();
        logger ??= NullLogger.Instance;
        using var train = Labeled(data.TrainInputs, data.TrainTargets, dtype, device);
        using var test = Labeled(data.TestInputs, data.TestTargets, dtype, device);
        var x = train.Inputs;

        double? etaMax = null;
        double eta;
        if (config.LearningRate is { } given) eta = given;
        else
        {
            long refWidth = config.Widths.Where(w => w <= config.LearningRateReferenceWidth).DefaultIfEmpty(config.Widths[0]).Max();
            using var reference = NetworkFactory.Create(config.SpecAt(refWidth, data.Features, data.Outputs), config.Seed, dtype, device);
            // tolerance 0: exactly config.PowerIterations iterations; seed + 17 keeps the sweep's historical start vector.
            double lambdaMax = NtkEigenvalue.Largest(reference, x, config.PowerIterations, tolerance: 0, seed: config.Seed + 17);
            etaMax = LearningRateLimit.ForMse(lambdaMax, x.shape[0], data.Outputs);
            eta = config.LearningRateFraction * etaMax.Value;
            logger.LogInformation("λ_max(Θ0) ≈ {LambdaMax:G4} at width {Width} ⇒ η_max = 2·N·O/λ_max ≈ {EtaMax:G4}; η = {Fraction}·η_max = {Eta:G4}",
                lambdaMax, refWidth, etaMax, config.LearningRateFraction, eta);
        }

        var records = new List<SweepRecord>();
        for (int s = 0; s < config.Seeds; s++)
        {
            long seed = config.Seed + s;
            foreach (var width in config.Widths)
            {
                cancellation.ThrowIfCancellationRequested();
                var watch = Stopwatch.StartNew();
                var spec = config.SpecAt(width, data.Features, data.Outputs);
                var run = RunOne(spec, width, seed, eta, config, train, test, dtype, device, progress, cancellation);
                records.AddRange(run);
                var last = run[^1];
                logger.LogInformation(
                    "width {Width} seed {Seed}: {Seconds:F1}s, loss {Loss0:G3} → {Loss:G3} (lin {LossLin:G3}), ‖f−f_lin‖ {Gap:G3}, " +
                    "ΔΘ {Kernel:G3}, ‖Δθ‖/√n {Param:G3}",
                    width, seed, watch.Elapsed.TotalSeconds, run[0].TrainLoss, last.TrainLoss, last.TrainLossLinear, last.OutputGapTest,
                    last.KernelChange, last.ParameterChange);
            }
        }
        return new LinearizationSweepResult(config, records, eta, etaMax, data.Description);
    }

    /// <summary>
    /// One width and seed: the network and its linearized companion trained by the engine (<see cref="Trainer.Create"/>)
    /// with full-batch SGD on MSE, every probe metric on the whole training and test sets; the rows become records.
    /// </summary>
    private static List<SweepRecord> RunOne(FcnSpec spec, long width, long seed, double eta, LinearizationSweepConfig config, LabeledData train,
                                            LabeledData test, ScalarType dtype, Device device, IProgress<SweepRecord>? progress, CancellationToken cancellation)
    {
        using var net = NetworkFactory.Create(spec, seed, dtype, device);
        var training = new TrainConfig
        {
            Optimizer = OptimizerKind.Sgd, Loss = LossKind.Mse, LearningRate = eta, MeasureEtaMax = false, BatchSize = 0, Steps = config.Steps,
            LogEvery = config.EvalEvery, CheckpointEvery = 0, ProbeTrain = (int)train.Count, ProbeTest = (int)test.Count,
            NtkProbe = (int)Math.Min(config.ProbeSize, train.Count), Linearize = true, Width = width, Seed = seed, DType = dtype,
        };
        var records = new RecordSink(width, seed, progress);
        var folder = Path.Combine(Path.GetTempPath(), $"gpuntk-sweep-{Guid.NewGuid():N}");
        try
        {
            var summary = Trainer.Create(net, train, test, training, folder, [records]).Run(cancellation: cancellation);
            cancellation.ThrowIfCancellationRequested();
            if (summary.Status != TrainingStatus.Completed)
                throw new ArithmeticException($"width {width}: {summary.Message} (η = {eta:G4}); lower the learning rate");
            return records.Records;
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); }
            catch (IOException) { /* a temporary folder: best effort */ }
        }
    }

    /// <summary>The sweep's view of the engine's telemetry rows.</summary>
    private sealed class RecordSink(long width, long seed, IProgress<SweepRecord>? progress) : ITelemetrySink
    {
        public List<SweepRecord> Records { get; } = [];

        public void Begin(TelemetryRun run) { }

        public void Write(MetricsRow row)
        {
            double sqrtWidth = Math.Sqrt(width);
            var record = new SweepRecord(width, seed, (int)row.Step,
                row[Metric.TrainLoss], row[Metric.LinearizedTrainLoss], row[Metric.TestLoss], row[Metric.LinearizedTestLoss],
                row[Metric.TestAccuracy], row[Metric.LinearizedTestAccuracy], row[Metric.LinearizationTestRmse], row[Metric.LinearizationRmse],
                row[Metric.NtkChange], row[Metric.ParamDistancePerSqrtWidth], row[Metric.LinearizedParamDistance] / sqrtWidth);
            Records.Add(record);
            progress?.Report(record);
        }

        public void End(TrainingSummary summary) { }

        public void Dispose() { }
    }

    /// <summary>Inputs and ±1 targets <c>[N, 1]</c> as the engine's data: labels 1 for +1 and 0 for −1 (two classes).</summary>
    private static LabeledData Labeled(Tensor inputs, Tensor targets, ScalarType dtype, Device device)
    {
        var y = targets.to(dtype, device);
        return new LabeledData(inputs.to(dtype, device), y.squeeze(1).gt(0).to(ScalarType.Int64), y, 2);
    }
}
