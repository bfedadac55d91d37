namespace GpuNtk.Training.Telemetry;

/// <summary>Where telemetry goes (console, files, TensorBoard, plots…). One small implementation per destination.</summary>
public interface ITelemetrySink : IDisposable
{
    /// <summary>Called once before the first row (after a resume too, with the earlier rows in <see cref="TelemetryRun.History"/>).</summary>
    void Begin(TelemetryRun run);

    /// <summary>One row, every <c>--log-every</c> steps and at the last step.</summary>
    void Write(MetricsRow row);

    /// <summary>Called once at the end, whether the run completed, diverged or was cancelled.</summary>
    void End(TrainingSummary summary);
}

/// <summary>What a sink knows about the run it records.</summary>
/// <param name="OutputDirectory">The run's folder (<c>--out</c>).</param>
/// <param name="Config">The run's configuration.</param>
/// <param name="Description">One line: network, data, optimizer.</param>
/// <param name="StartStep">0, or the step a resumed run continues from.</param>
/// <param name="History">Rows written before <paramref name="StartStep"/> (resume), oldest first.</param>
public sealed record TelemetryRun(string OutputDirectory, TrainConfig Config, string Description, long StartStep, IReadOnlyList<MetricsRow> History);

/// <summary>How a run ended.</summary>
public enum TrainingStatus
{
    Completed,
    Diverged,
    Cancelled,
}

/// <summary>The end of a run: status, timings and final accuracies.</summary>
public sealed record TrainingSummary(
    TrainingStatus Status,
    long Steps,
    double Time,
    double WallSeconds,
    double TrainingSeconds,
    double TelemetrySeconds,
    double MillisecondsPerStep,
    double ExamplesPerSecond,
    string Message,
    IReadOnlyDictionary<string, double> Final)
{
    /// <summary>Telemetry time as a fraction of training-step time.</summary>
    public double TelemetryOverhead => TrainingSeconds > 0 ? TelemetrySeconds / TrainingSeconds : 0;
}
