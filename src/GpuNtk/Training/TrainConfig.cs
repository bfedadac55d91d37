using System.Text.Json;
using System.Text.Json.Serialization;
using GpuNtk.Data;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Everything that determines a training run's numbers (the device does not: it is chosen per run). Immutable, validated
/// in <see cref="Validate"/>, stored in every checkpoint as JSON.
/// </summary>
public sealed record TrainConfig
{
    public const string DefaultArch = "fcn:depth=2,width=512,act=relu,param=ntk,in=3072,out=10";

    /// <summary>Architecture spec (<see cref="ArchitectureSpec.Parse"/>).</summary>
    public string Arch { get; init; } = DefaultArch;
    public DataOptions Data { get; init; } = new(TrainSize: 4096, TestSize: 2000);
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Momentum;
    public LossKind Loss { get; init; } = LossKind.Mse;
    /// <summary>η in the conventions' units (MSE = 1/(2·N·O)·‖f − y‖²).</summary>
    public double LearningRate { get; init; } = 4.0;
    /// <summary>β of heavy-ball and Nesterov momentum.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Minibatch size; 0 means full batch (gradient descent).</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Optimizer steps; for gradient flow, the run integrates to t = Steps (time is counted in steps).</summary>
    public long Steps { get; init; } = 2000;
    /// <summary>Telemetry interval in steps.</summary>
    public int LogEvery { get; init; } = 100;
    /// <summary>Fixed training examples in the telemetry probe.</summary>
    public int ProbeTrain { get; init; } = 256;
    /// <summary>Fixed test examples in the telemetry probe.</summary>
    public int ProbeTest { get; init; } = 256;
    /// <summary>Examples of the training probe on which the NTK Θt is computed; 0 turns the NTK telemetry off.</summary>
    public int NtkProbe { get; init; } = 256;
    /// <summary>Checkpoint interval in steps (a checkpoint is always written at the end); 0: only at the end.</summary>
    public int CheckpointEvery { get; init; } = 500;
    public long Seed { get; init; }
    [JsonConverter(typeof(JsonStringEnumConverter<ScalarType>))]
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>Gradient flow: fixed ODE step in time units; null: adaptive Dormand–Prince with the tolerances below.</summary>
    public double? FlowStep { get; init; }
    public double FlowRelativeTolerance { get; init; } = 1e-5;
    public double FlowAbsoluteTolerance { get; init; } = 1e-7;
    /// <summary>The run is declared diverged when the training loss exceeds this multiple of its initial value (or is NaN/Inf).</summary>
    public double ExplosionFactor { get; init; } = 1e4;
    /// <summary>Full-batch gradients are accumulated over chunks of this many examples (memory bound).</summary>
    public int FullBatchChunk { get; init; } = 2048;
    /// <summary>
    /// Train the linearized model f_lin(x; θ) = f(x; θ0) + J(x; θ0)·(θ − θ0) alongside the network, with the same
    /// optimizer settings on the same batches, and log the linearization error ‖ft − f_lin,t‖ on the probe.
    /// </summary>
    public bool Linearize { get; init; } = true;
    /// <summary>Start from the weights in this .pt/.pth/.safetensors file instead of the seeded initialisation (θ0 = those weights).</summary>
    public string? InitFrom { get; init; }

    /// <summary>
    /// Continuous time after <paramref name="step"/> steps. Time is counted in steps (src/GpuNtk/Kernels/README.md):
    /// step k of SGD or momentum is t = k, and gradient flow dθ/dt = −η·∇L runs to t = <see cref="Steps"/>.
    /// </summary>
    public static double TimeAt(long step) => step;

    /// <summary>Settings a resumed run may change without breaking its checkpoint: how long, how often to log and save, the rate, the divergence limit.</summary>
    public TrainConfig WithResumableSettingsOf(TrainConfig other) => this with
    {
        Steps = other.Steps, LogEvery = other.LogEvery, CheckpointEvery = other.CheckpointEvery,
        LearningRate = other.LearningRate, ExplosionFactor = other.ExplosionFactor,
    };

    public void Validate()
    {
        var spec = ArchitectureSpec.Parse(Arch);
        Data.Validate();
        if (Data.ExampleShape is { } shape && spec.InputSize != shape.Aggregate(1L, (a, b) => a * b))
            throw new ArgumentException($"--arch {Arch}: the network takes {spec.InputSize} inputs, {DataOptions.SourceName(Data.Source)} examples have " +
                                        $"{shape.Aggregate(1L, (a, b) => a * b)} ({string.Join("×", shape)})");
        if (Data.ClassCount > 0) Targets.CheckOutputs(Data.ClassCount, spec.Outputs, Data.Targets);
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"--lr must be positive and finite, got {LearningRate}");
        if (Optimizer.UsesMomentum() && !(Momentum > 0 && Momentum < 1)) throw new ArgumentException($"--momentum must be in (0, 1), got {Momentum}");
        if (BatchSize < 0) throw new ArgumentException("--batch must be ≥ 0 (0: full batch)");
        if (Steps < 1) throw new ArgumentException("--steps must be ≥ 1");
        if (LogEvery < 1) throw new ArgumentException("--log-every must be ≥ 1");
        if (ProbeTrain < 1 || ProbeTest < 0) throw new ArgumentException("--probe needs ≥ 1 training example (and ≥ 0 test examples)");
        if (NtkProbe < 0 || NtkProbe > ProbeTrain) throw new ArgumentException($"--ntk-probe must be in 0–{ProbeTrain} (the training probe)");
        if (CheckpointEvery < 0) throw new ArgumentException("--checkpoint-every must be ≥ 0");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"--dtype {DType}: use float32 or float64");
        if (FlowStep is { } h && !(h > 0)) throw new ArgumentException($"--flow-step must be positive, got {h}");
        if (!(FlowRelativeTolerance > 0) || !(FlowAbsoluteTolerance > 0)) throw new ArgumentException("ODE tolerances must be positive");
        if (!(ExplosionFactor > 1)) throw new ArgumentException("the explosion factor must be > 1");
        if (FullBatchChunk < 1) throw new ArgumentException("the full-batch chunk must be ≥ 1");
    }

    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static TrainConfig FromJson(string json) =>
        JsonSerializer.Deserialize<TrainConfig>(json, JsonOptions) ?? throw new InvalidDataException("empty training configuration");
}
