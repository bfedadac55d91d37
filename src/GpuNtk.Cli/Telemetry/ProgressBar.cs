using System.Diagnostics;
using System.Globalization;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;

namespace GpuNtk.Cli.Telemetry;

/// <summary>
/// A one-line progress bar on a terminal (redrawn at most every 200 ms, cleared before each logged row so log lines
/// stay intact); does nothing when stdout is redirected.
/// </summary>
public sealed class ProgressBar : ITelemetrySink, IProgress<TrainingProgress>
{
    private readonly bool _enabled = !Console.IsOutputRedirected;
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private (long Step, double Seconds)? _first;
    private bool _drawn;

    public void Begin(TelemetryRun run) => _first = null;

    public void Report(TrainingProgress value)
    {
        if (!_enabled) return;
        _first ??= (value.Step, value.ElapsedSeconds);
        if (_sinceDraw.ElapsedMilliseconds < 200 && value.Step < value.TotalSteps) return;
        _sinceDraw.Restart();
        const int width = 30;
        double fraction = (double)value.Step / value.TotalSteps;
        int filled = (int)Math.Round(fraction * width);
        // The rate since the first report, so set-up time does not inflate the estimate.
        _first ??= (value.Step, value.ElapsedSeconds);
        long done = value.Step - _first.Value.Step;
        double eta = done > 0 ? (value.ElapsedSeconds - _first.Value.Seconds) / done * (value.TotalSteps - value.Step) : double.NaN;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[{new string('#', filled)}{new string('.', width - filled)}] {value.Step}/{value.TotalSteps} {100 * fraction:0}%  {value.ElapsedSeconds:0}s elapsed");
        if (double.IsFinite(eta)) line += string.Create(CultureInfo.InvariantCulture, $", ~{eta:0}s left");
        Console.Out.Write("\r" + line + "\x1b[K");
        Console.Out.Flush();
        _drawn = true;
    }

    public void Write(MetricsRow row) => Clear();

    public void End(TrainingSummary summary) => Clear();

    private void Clear()
    {
        if (!_enabled || !_drawn) return;
        Console.Out.Write("\r\x1b[K");
        Console.Out.Flush();
        _drawn = false;
        // Give the (asynchronous) console logger time to print the row before the bar comes back.
        _sinceDraw.Restart();
    }

    public void Dispose() => Clear();
}
