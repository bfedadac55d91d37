using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// TensorBoard event files under <c>&lt;out&gt;/tensorboard/</c> through TorchSharp's SummaryWriter: every metric is a
/// scalar tagged with its column name (so <c>drift/…</c> columns group together), at the row's step.
/// </summary>
public sealed class TensorBoardSink(string folder = "tensorboard") : ITelemetrySink
{
    private SummaryWriter? _writer;

    public string? LogDirectory { get; private set; }

    public void Begin(TelemetryRun run)
    {
        LogDirectory = Path.Combine(run.OutputDirectory, folder);
        // A resumed run appends a new event file; TensorBoard merges files of one folder by step.
        _writer = utils.tensorboard.SummaryWriter(LogDirectory);
    }

    public void Write(MetricsRow row)
    {
        if (_writer is null) throw new InvalidOperationException("Begin was not called");
        foreach (var (name, value) in row.Values)
        {
            if (name == Metric.Step || !double.IsFinite(value)) continue;
            _writer.add_scalar(name, (float)value, checked((int)row.Step));
        }
    }

    public void End(TrainingSummary summary) { }

    public void Dispose() { }
}
