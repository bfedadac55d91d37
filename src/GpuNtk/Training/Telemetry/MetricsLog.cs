using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// The metrics files are append-only logs. On a resume from the checkpoint of step S, <see cref="KeepThrough"/> keeps
/// every line of step ≤ S byte for byte and drops the rows past S (written after that checkpoint) and torn lines (a
/// write cut short by a crash or a full disk) by writing the kept lines to a temporary file and renaming it over the
/// log, so a crash at any moment leaves either the old or the new file, never a shortened one.
/// <see cref="ReadJsonlThrough"/> reads the rows a resume continues, tolerating torn lines with a note.
/// </summary>
public static class MetricsLog
{
    /// <summary>The rows of a metrics.jsonl of step ≤ <paramref name="step"/>, and notes about lines that are not rows (torn writes).</summary>
    public static (List<MetricsRow> Rows, List<string> Notes) ReadJsonlThrough(string path, long step)
    {
        var rows = new List<MetricsRow>();
        var notes = new List<string>();
        var lines = Lines(File.ReadAllText(path, Encoding.UTF8), out bool complete);
        for (int i = 0; i < lines.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            var row = ParseJsonl(lines[i]);
            if (row is null || i == lines.Count - 1 && !complete)
                notes.Add($"{path}:{i + 1}: not a complete metrics row ({(i == lines.Count - 1 ? "the last line, a write cut short" : "a torn write")}): skipped");
            else if (row.Step <= step) rows.Add(row);
        }
        return (rows, notes);
    }

    /// <summary>Rewrites <paramref name="path"/> atomically without its rows past <paramref name="step"/> and its torn lines; a no-op when there are none.</summary>
    /// <param name="path">A metrics file; nothing happens when it does not exist.</param>
    /// <param name="step">The step of the checkpoint the run resumes from.</param>
    /// <param name="csv">metrics.csv (a header line, then comma-separated rows starting with the step) rather than metrics.jsonl.</param>
    public static void KeepThrough(string path, long step, bool csv)
    {
        if (!File.Exists(path)) return;
        var lines = Lines(File.ReadAllText(path, Encoding.UTF8), out bool complete);
        int fields = csv && lines.Count > 0 ? lines[0].Split(',').Length : 0;
        var kept = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            if (i == lines.Count - 1 && !complete) continue;
            if (csv && i == 0) kept.Add(lines[i]);
            else if ((csv ? StepOfCsv(lines[i], fields) : ParseJsonl(lines[i])?.Step) is { } s && s <= step) kept.Add(lines[i]);
        }
        if (complete && kept.Count == lines.Count) return;
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            var bytes = new UTF8Encoding(false).GetBytes(string.Concat(kept.Select(l => l + "\n")));
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The CSV header of an existing metrics.csv, or null.</summary>
    public static string[]? CsvColumns(string path)
    {
        if (!File.Exists(path)) return null;
        using var reader = new StreamReader(path, Encoding.UTF8);
        return reader.ReadLine() is { Length: > 0 } header ? header.Split(',') : null;
    }

    /// <summary>The lines of a log without their '\n'; <paramref name="complete"/> tells whether the last one was terminated.</summary>
    private static List<string> Lines(string text, out bool complete)
    {
        complete = text.Length == 0 || text[^1] == '\n';
        var lines = text.Split('\n').ToList();
        if (complete && lines.Count > 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    private static long? StepOfCsv(string line, int fields)
    {
        var cells = line.Split(',');
        return cells.Length == fields && double.TryParse(cells[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? (long)s : null;
    }

    private static MetricsRow? ParseJsonl(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(Metric.Step, out var step) || step.ValueKind != JsonValueKind.Number)
                return null;
            var row = new MetricsRow((long)step.GetDouble());
            foreach (var p in doc.RootElement.EnumerateObject())
                row.Add(p.Name, p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : double.NaN);
            return row;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
