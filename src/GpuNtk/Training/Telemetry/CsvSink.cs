using System.Globalization;
using System.Text;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// <c>metrics.csv</c>: a header from the first row's columns, one line per row, flushed as written. NaN is an empty cell.
/// Append-only like <see cref="JsonlSink"/>: a resumed run keeps the earlier lines and appends its own.
/// </summary>
public sealed class CsvSink(string fileName = "metrics.csv") : ITelemetrySink
{
    private StreamWriter? _writer;
    private string[]? _columns;

    public string? Path { get; private set; }

    public void Begin(TelemetryRun run)
    {
        Path = System.IO.Path.Combine(run.OutputDirectory, fileName);
        if (run.StartStep > 0 && MetricsLog.CsvColumns(Path) is { } columns)
        {
            MetricsLog.KeepThrough(Path, run.StartStep, csv: true);
            _columns = columns;
            _writer = new StreamWriter(Path, append: true, new UTF8Encoding(false));
            return;
        }
        // A fresh run, or a resumed one whose CSV is gone: the CSV is derived from metrics.jsonl's rows.
        _writer = new StreamWriter(Path, append: false, new UTF8Encoding(false));
        foreach (var row in run.History) Write(row);
    }

    public void Write(MetricsRow row)
    {
        if (_writer is null) throw new InvalidOperationException("Begin was not called");
        var columns = row.Columns.ToArray();
        if (_columns is null)
        {
            _columns = columns;
            _writer.WriteLine(string.Join(",", columns.Select(Quote)));
        }
        else if (!columns.SequenceEqual(_columns))
            throw new InvalidOperationException($"metrics row at step {row.Step} has columns different from the header of {Path}");
        _writer.WriteLine(string.Join(",", row.Values.Select(v => Format(v.Value))));
        _writer.Flush();
    }

    public void End(TrainingSummary summary) => _writer?.Flush();

    public void Dispose() => _writer?.Dispose();

    internal static string Format(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
