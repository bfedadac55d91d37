using System.Globalization;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// <c>metrics.csv</c>: a header from the first row's columns, one line per row, flushed as written. NaN is an empty cell.
/// Append-only like <see cref="JsonlSink"/>: a resumed run keeps the earlier lines and appends its own.
/// </summary>
public sealed class CsvSink(string fileName = "metrics.csv") : MetricsFileSink(fileName)
{
    private string[]? _columns;

    protected override bool TryContinue(string path, long startStep)
    {
        // A CSV that is gone or has no header is derived again from metrics.jsonl's rows.
        if (MetricsLog.CsvColumns(path) is not { } columns) return false;
        MetricsLog.KeepThrough(path, startStep, csv: true);
        _columns = columns;
        return true;
    }

    protected override void WriteRow(TextWriter writer, MetricsRow row)
    {
        var columns = row.Columns.ToArray();
        if (_columns is null)
        {
            _columns = columns;
            writer.WriteLine(string.Join(",", columns.Select(Quote)));
        }
        else if (!columns.SequenceEqual(_columns))
            throw new InvalidOperationException($"metrics row at step {row.Step} has columns different from the header of {Path}");
        writer.WriteLine(string.Join(",", row.Values.Select(v => Format(v.Value))));
    }

    internal static string Format(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";
}
