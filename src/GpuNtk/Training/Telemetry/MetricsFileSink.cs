using System.Text;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// A metrics file in the run's folder, append-only and flushed row by row (<see cref="JsonlSink"/>,
/// <see cref="CsvSink"/>). A fresh run (or a resumed one whose file cannot be continued) writes the earlier rows of
/// <see cref="TelemetryRun.History"/> and then its own; a resumed run keeps the file's lines through its start step
/// (<see cref="MetricsLog.KeepThrough"/>) and appends. A format only says how a row becomes lines.
/// </summary>
public abstract class MetricsFileSink(string fileName) : ITelemetrySink
{
    private StreamWriter? _writer;

    public string? Path { get; private set; }

    public void Begin(TelemetryRun run)
    {
        Path = System.IO.Path.Combine(run.OutputDirectory, fileName);
        bool append = run.StartStep > 0 && TryContinue(Path, run.StartStep);
        _writer = new StreamWriter(Path, append, new UTF8Encoding(false));
        if (!append)
            foreach (var row in run.History) Write(row);
    }

    public void Write(MetricsRow row)
    {
        if (_writer is null) throw new InvalidOperationException("Begin was not called");
        WriteRow(_writer, row);
        _writer.Flush();
    }

    public void End(TrainingSummary summary) => _writer?.Flush();

    public void Dispose() => _writer?.Dispose();

    /// <summary>
    /// On a resume from <paramref name="startStep"/>: when the file at <paramref name="path"/> can be continued, trims it
    /// to the rows through that step (<see cref="MetricsLog.KeepThrough"/>), reads what later rows need (a CSV header)
    /// and returns true; false starts the file again from the run's history.
    /// </summary>
    protected abstract bool TryContinue(string path, long startStep);

    /// <summary>Writes one row (and whatever must precede the first one, such as a CSV header).</summary>
    protected abstract void WriteRow(TextWriter writer, MetricsRow row);
}
