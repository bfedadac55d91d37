using System.Globalization;
using Microsoft.Extensions.Logging;

namespace GpuNtk.Training.Telemetry;

/// <summary>A compact line per row through <see cref="ILogger"/> (the console in the CLI).</summary>
/// <param name="translate">Rewrites the summary message (the CLI maps option names to its flags); null: as is.</param>
public sealed class LoggerSink(ILogger logger, Func<string, string>? translate = null) : ITelemetrySink
{
    private long _steps;

    public void Begin(TelemetryRun run) => _steps = run.Config.Steps;

    public void Write(MetricsRow row)
    {
        var parts = new List<string>
        {
            $"step {row.Step.ToString(CultureInfo.InvariantCulture).PadLeft(_steps.ToString(CultureInfo.InvariantCulture).Length)}/{_steps}",
            $"loss {F(row[Metric.TrainLoss], "0.0000")}/{F(row[Metric.TestLoss], "0.0000")}",
        };
        if (row.Contains(Metric.TrainAccuracy)) parts.Add($"acc {P(row[Metric.TrainAccuracy])}/{P(row[Metric.TestAccuracy])}");
        if (row.Contains(Metric.NtkChange))
            parts.Add($"ΔΘ {F(row[Metric.NtkChange], "0.0000")} λmax {F(row[Metric.NtkLambdaMax], "0.###")} align {F(row[Metric.NtkAlignment], "0.000")}");
        parts.Add($"drift {F(row[Metric.ParamDrift], "0.00000")}");
        if (row.Contains(Metric.LinearizationRmse)) parts.Add($"lin-rmse {F(row[Metric.LinearizationRmse], "0.00000")}");
        parts.Add($"{F(row[Metric.WallSeconds], "0.0")} s");
        if (double.IsFinite(row[Metric.ExamplesPerSecond])) parts.Add($"{F(row[Metric.ExamplesPerSecond], "0")} ex/s");
        logger.LogInformation("{Line}", string.Join("  ", parts));
    }

    public void End(TrainingSummary summary)
    {
        // A cancellation (Ctrl-C, SIGTERM) is asked for, not an error.
        var level = summary.Status switch { TrainingStatus.Completed => LogLevel.Information, TrainingStatus.Cancelled => LogLevel.Warning, _ => LogLevel.Error };
        logger.Log(level, "{Message}", translate is null ? summary.Message : translate(summary.Message));
    }

    public void Dispose() { }

    private static string F(double v, string format) => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);
    private static string P(double v) => double.IsNaN(v) ? "–" : (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + "%";
}
