using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuNtk.Training;

/// <summary>
/// The bookkeeping of a run that is not a tensor: counters, timings, the measured λ_max/η_max and the learning rate
/// in use. Saved whole in every checkpoint (<see cref="ToJson"/>/<see cref="FromJson"/>, so a new field needs no
/// hand-written copy); the tensors of a run (parameters, optimizer, sampler, θ0, Θ0) travel beside it.
/// </summary>
internal sealed class RunState
{
    public long Step { get; set; }
    /// <summary>Training examples processed (gradient evaluations × examples, for flow).</summary>
    public long Examples { get; set; }
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private double _earlierWallSeconds;

    /// <summary>Wall time of the whole run: earlier processes' (restored from the checkpoint) plus this one's.</summary>
    public double WallSeconds
    {
        get => _earlierWallSeconds + _clock.Elapsed.TotalSeconds;
        set
        {
            _earlierWallSeconds = value;
            _clock.Restart();
        }
    }

    /// <summary>Wall time of this process's part of the run.</summary>
    [JsonIgnore] public double SessionSeconds => _clock.Elapsed.TotalSeconds;
    public double TrainingSeconds { get; set; }
    public double TelemetrySeconds { get; set; }
    /// <summary>The training-probe loss at step 0, the reference of the divergence test.</summary>
    public double ReferenceLoss { get; set; } = double.NaN;
    public double LambdaMax { get; set; } = double.NaN;
    public double EtaMax { get; set; } = double.NaN;
    /// <summary>The base learning rate of the run (given, or the fraction of η_max chosen at the start).</summary>
    public double LearningRate { get; set; } = double.NaN;
    /// <summary>Minibatch losses summed since the last log row (their sum is a tensor saved beside this).</summary>
    public long BatchLossCount { get; set; }
    public double FlowStepSize { get; set; }
    /// <summary>Solver evaluations of this process (not saved: a resumed solver counts from zero).</summary>
    [JsonIgnore] public long FlowEvaluations { get; set; }
    [JsonIgnore] public long? LastCheckpointStep { get; set; }

    private static readonly JsonSerializerOptions s_json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    public static RunState FromJson(string json) =>
        JsonSerializer.Deserialize<RunState>(json, s_json) ?? throw new InvalidDataException("empty run state in the checkpoint");
}
