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
    /// <summary>
    /// η in the conventions' units (MSE = 1/(2·N·O)·‖f−y‖²); null: <see cref="LearningRateFraction"/>·η_max, η_max
    /// measured from the NTK at initialisation (<see cref="LearningRateSafety"/>); for Adam/AdamW, where η_max does not
    /// apply, null means <see cref="DefaultAdamLearningRate"/>.
    /// </summary>
    public double? LearningRate { get; init; }
    /// <summary>The fraction of η_max used when <see cref="LearningRate"/> is null (see <see cref="DefaultLearningRateFraction"/>).</summary>
    public double LearningRateFraction { get; init; } = DefaultLearningRateFraction;
    /// <summary>
    /// Half of η_max: for full-batch GD, η = η_max/2 = N·O/λ_max removes the top NTK mode's error in one step (the fastest
    /// rate for it) while every other mode still contracts, and it leaves a factor 2 of margin for the NTK's growth
    /// during training and for minibatch noise, which the η_max of initialisation does not see.
    /// </summary>
    public const double DefaultLearningRateFraction = 0.5;
    /// <summary>Adam's and AdamW's step when <see cref="LearningRate"/> is null (PyTorch's default).</summary>
    public const double DefaultAdamLearningRate = 1e-3;
    /// <summary>Learning-rate schedule over the run (<see cref="LearningRateSchedule.Parse"/>): constant, warmup:S, cosine[:warmup=S], step:every=S,factor=F.</summary>
    public string Schedule { get; init; } = "constant";
    /// <summary>
    /// Weight decay λ_wd: SGD/momentum/Adam add λ_wd·θ to the gradient (PyTorch's L2 form), AdamW shrinks θ by η·λ_wd
    /// (decoupled). 0: none.
    /// </summary>
    public double WeightDecay { get; init; }
    /// <summary>Clip every model's gradient to this total L2 norm before the step (on the device); null: no clipping.</summary>
    public double? ClipNorm { get; init; }
    /// <summary>CIFAR-style augmentation of training minibatches (random crop with 4-pixel zero padding, horizontal flip); image inputs [N, C, H, W] only.</summary>
    public bool Augment { get; init; }
    /// <summary>
    /// Measure λ_max of the NTK at the start (η_max, the default learning rate). An experiment that gives the rate and
    /// measures the spectrum itself may turn it off to save the power iteration; without a given rate it is needed.
    /// </summary>
    public bool MeasureEtaMax { get; init; } = true;
    /// <summary>The width that normalises ‖θt−θ0‖ in <c>param_dist_per_sqrt_width</c>; null: no such column (the spec factory sets it from the spec).</summary>
    public long? Width { get; init; }
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
    /// <summary>
    /// Examples of the training probe on which the NTK Θt is computed; 0 turns the NTK telemetry off; null: as many as
    /// <see cref="ProbeSizes.DefaultNtkExamples(nn.Module{Tensor, Tensor}, Tensor)"/>' cost model affords for the
    /// network (up to 256; fewer for convolutional networks), as the CLI's default.
    /// </summary>
    public int? NtkProbe { get; init; }
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
        LearningRate = other.LearningRate, LearningRateFraction = other.LearningRateFraction, ExplosionFactor = other.ExplosionFactor,
    };

    /// <summary>Checks the spec-string path: <see cref="Arch"/>, <see cref="Data"/> and the training options (input sizes follow the data, see <see cref="Trainer"/>).</summary>
    public void Validate()
    {
        var spec = ArchitectureSpec.Parse(Arch);
        Data.Validate();
        if (Data.ClassCount > 0) Targets.CheckOutputs(Data.ClassCount, spec.Outputs, Data.Targets);
        ValidateTraining();
    }

    /// <summary>Checks the options the engine reads (everything except <see cref="Arch"/>, <see cref="Data"/> and <see cref="InitFrom"/>).</summary>
    public void ValidateTraining()
    {
        if (LearningRate is { } lr && (!(lr > 0) || double.IsInfinity(lr))) throw new ArgumentException($"LearningRate must be positive and finite, got {lr}");
        if (!(LearningRateFraction > 0)) throw new ArgumentException($"LearningRateFraction must be positive, got {LearningRateFraction}");
        var schedule = LearningRateSchedule.Parse(Schedule);
        if (Optimizer == OptimizerKind.Flow && schedule.Kind != ScheduleKind.Constant)
            throw new ArgumentException($"Schedule {Schedule}: gradient flow integrates at a constant rate; use Schedule constant");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException($"WeightDecay must be ≥ 0 and finite, got {WeightDecay}");
        if (ClipNorm is { } clip && !(clip > 0)) throw new ArgumentException($"ClipNorm must be positive, got {clip}");
        if (Optimizer == OptimizerKind.Flow && (WeightDecay > 0 || ClipNorm is not null || Augment))
            throw new ArgumentException("gradient flow integrates the plain full-batch gradient: WeightDecay, ClipNorm and Augment apply to the discrete optimizers only");
        if (!MeasureEtaMax && LearningRate is null && Optimizer is not (OptimizerKind.Adam or OptimizerKind.AdamW))
            throw new ArgumentException("MeasureEtaMax = false needs a LearningRate (the default rate is a fraction of the measured η_max)");
        if (Width is { } w && w < 1) throw new ArgumentException($"Width must be ≥ 1, got {w}");
        if (Optimizer.UsesMomentum() && !(Momentum > 0 && Momentum < 1)) throw new ArgumentException($"Momentum must be in (0, 1), got {Momentum}");
        if (BatchSize < 0) throw new ArgumentException("BatchSize must be ≥ 0 (0: full batch)");
        if (Steps < 1) throw new ArgumentException("Steps must be ≥ 1");
        if (LogEvery < 1) throw new ArgumentException("LogEvery must be ≥ 1");
        if (ProbeTrain < 1 || ProbeTest < 0) throw new ArgumentException("ProbeTrain needs ≥ 1 training example (and ≥ 0 test examples)");
        if (NtkProbe is < 0 || NtkProbe > ProbeTrain) throw new ArgumentException($"NtkProbe must be in 0–{ProbeTrain} (the training probe)");
        if (CheckpointEvery < 0) throw new ArgumentException("CheckpointEvery must be ≥ 0");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException($"DType {DType}: use float32 or float64");
        if (FlowStep is { } h && !(h > 0)) throw new ArgumentException($"FlowStep must be positive, got {h}");
        if (!(FlowRelativeTolerance > 0) || !(FlowAbsoluteTolerance > 0)) throw new ArgumentException("ODE tolerances must be positive");
        if (!(ExplosionFactor > 1)) throw new ArgumentException($"ExplosionFactor must be > 1 (a multiple of the initial loss), got {ExplosionFactor}");
        if (FullBatchChunk < 1) throw new ArgumentException("the full-batch chunk must be ≥ 1");
    }

    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static TrainConfig FromJson(string json) =>
        JsonSerializer.Deserialize<TrainConfig>(json, JsonOptions) ?? throw new InvalidDataException("empty training configuration");
}
