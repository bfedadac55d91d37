using System.Globalization;
using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Networks;
using GpuNtk.Networks.StateDicts;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// The entry points of the engine. <see cref="Create"/> trains any module on any labelled data (<see cref="TrainingRun"/>);
/// an instance is the spec-string factory: it builds the network of <see cref="TrainConfig.Arch"/> (its input shape
/// following the data), loads <see cref="TrainConfig.Data"/> and <see cref="TrainConfig.InitFrom"/>, and hands them to
/// the same engine.
/// </summary>
public sealed class Trainer
{
    public const string CheckpointFileName = "checkpoint.bin";
    public const string MetricsJsonlFileName = "metrics.jsonl";

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

    /// <summary>
    /// A run of <paramref name="module"/> on <paramref name="train"/> (probe and final evaluation also on
    /// <paramref name="test"/>), both on the module's device and dtype, writing to <paramref name="outputDirectory"/>.
    /// The module's output for one example must depend on that example only: a BatchNorm in training mode is refused.
    /// The caller keeps ownership of the module and the data.
    /// </summary>
    public static TrainingRun Create(nn.Module<Tensor, Tensor> module, LabeledData train, LabeledData test, TrainConfig config, string outputDirectory,
        IReadOnlyList<ITelemetrySink>? sinks = null, ILogger? logger = null, TrainerHooks? hooks = null, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(config);
        config.ValidateTraining();
        ModuleRequirements.Check(module, train, test);
        CpuConvolutionSafety.Ensure(module, logger ?? NullLogger.Instance);
        description ??= $"{module.GetType().Name} ({module.parameters().Sum(p => p.numel())} parameters) on {train.Count} train / {test.Count} test examples " +
                        $"[{string.Join("×", train.Inputs.shape.Skip(1))}] → {train.Outputs}";
        description += "; " + Describe(config) + "; " + RunSummaries.Theory(config);
        return new TrainingRun(module, train, test, config, outputDirectory, sinks ?? [], logger ?? NullLogger.Instance, hooks ?? new TrainerHooks(), description);
    }

    public string CheckpointPath => Path.Combine(_out, CheckpointFileName);

    /// <summary>The configuration stored in the checkpoint at <paramref name="path"/>.</summary>
    public static TrainConfig ReadCheckpointConfig(string path)
    {
        var (meta, tensors) = TrainingCheckpoint.Read(path);
        foreach (var t in tensors.Values) t.Dispose();
        return TrainingCheckpoint.ReadConfig(meta, path);
    }

    /// <summary>Runs (or, with <paramref name="resume"/>, continues from the checkpoint in the output folder) to <c>Steps</c>.</summary>
    public TrainingSummary Run(bool resume = false, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        var spec = ArchitectureSpec.Parse(_config.Arch);
        // Image networks and augmentation take [N, C, H, W]; an FCN flattens whatever it gets.
        bool images = spec is ImageSpec || _config.Augment;
        using var data = DatasetLoader.Load(_config.Data with { Flatten = _config.Data.Flatten && !images }, spec.Outputs, _config.DType, _device, _logger);
        spec = FollowData(spec, data.Train.Inputs);
        using var network = NetworkFactory.Create(spec, _config.Seed, _config.DType, _device);
        if (!resume && _config.InitFrom is { } init)
        {
            if (!File.Exists(init)) throw new FileNotFoundException($"InitFrom {init}: no such file", init);
            var loaded = StateDictLoader.LoadInto(network, init, strict: true, convertDType: true);
            _logger.LogInformation("initial weights: {Count} tensors from {Path} (names: {Mapping})", loaded.Loaded.Count, init, loaded.Mapping);
        }
        var config = _config with { Width = _config.Width ?? Telemetry.ProbeTelemetry.Width(spec) };
        var run = Create(network, data.Train, data.Test, config, _out, _sinks, _logger, _hooks, $"{spec} on {data.Describe()}");
        _logger.LogInformation("{Spec} on {Data}", spec, data.Describe());
        return run.Run(resume, progress, cancellation);
    }

    /// <summary>The spec with its input shape set from the data: in = features for an FCN, channels and size for image networks.</summary>
    public static ArchitectureSpec FollowData(ArchitectureSpec spec, Tensor inputs)
    {
        var shape = inputs.shape.Skip(1).ToArray();
        long features = shape.Aggregate(1L, (a, b) => a * b);
        return spec switch
        {
            FcnSpec f => f with { Inputs = features },
            ImageSpec i when shape.Length == 3 && shape[1] == shape[2] => i with { InChannels = shape[0], ImageSize = shape[1] },
            ImageSpec i when shape.Length == 1 && i.InputSize == features => i,
            ImageSpec i => throw new ArgumentException($"Arch {spec}: image networks take square images [C, S, S] (or their flattening of {i.InputSize} features); the data's inputs are [{string.Join(", ", shape)}]"),
            _ => spec,
        };
    }

    private static string Describe(TrainConfig c) =>
        c.Optimizer.ToName() +
        (c.Optimizer.UsesMomentum() ? string.Create(CultureInfo.InvariantCulture, $" β={c.Momentum}") : "") +
        string.Create(CultureInfo.InvariantCulture, $" η={(c.LearningRate is { } lr ? lr.ToString(CultureInfo.InvariantCulture) : $"{c.LearningRateFraction}·η_max")}") +
        (c.Schedule != "constant" ? $" schedule {c.Schedule}" : "") +
        (c.WeightDecay > 0 ? string.Create(CultureInfo.InvariantCulture, $" wd={c.WeightDecay}") : "") +
        (c.ClipNorm is { } clip ? string.Create(CultureInfo.InvariantCulture, $" clip={clip}") : "") +
        (c.Augment ? " augment" : "") +
        $" loss={c.Loss.ToName()} " +
        (c.Optimizer == OptimizerKind.Flow
            ? (c.FlowStep is { } h ? $"fixed step {h}" : $"DP5(4) rtol={c.FlowRelativeTolerance} atol={c.FlowAbsoluteTolerance}")
            : c.BatchSize == 0 ? "full batch" : $"batch {c.BatchSize}") +
        $", {c.Steps} steps, seed {c.Seed}";
}
