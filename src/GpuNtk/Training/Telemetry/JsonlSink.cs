using System.Text;
using System.Text.Json;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// <c>metrics.jsonl</c>: one JSON object per row (column → number, NaN → null), flushed as written. Append-only: a
/// resumed run keeps the earlier rows as they are (<see cref="MetricsLog.KeepThrough"/> drops only the rows past the
/// checkpoint and torn lines, atomically) and appends its own.
/// </summary>
public sealed class JsonlSink(string fileName = "metrics.jsonl") : MetricsFileSink(fileName)
{
    protected override bool TryContinue(string path, long startStep)
    {
        if (!File.Exists(path)) return false;
        MetricsLog.KeepThrough(path, startStep, csv: false);
        return true;
    }

    protected override void WriteRow(TextWriter writer, MetricsRow row) => writer.WriteLine(Serialize(row));

    public static string Serialize(MetricsRow row)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in row.Values)
            {
                if (double.IsFinite(value)) json.WriteNumber(name, value);
                else json.WriteNull(name);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads the rows of a metrics.jsonl file (null → NaN); every row must have a "step".</summary>
    public static List<MetricsRow> Read(string path)
    {
        var rows = new List<MetricsRow>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(text); }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: not a JSON object ({e.Message})", e); }
            using (doc)
            {
                if (!doc.RootElement.TryGetProperty(Metric.Step, out var step))
                    throw new InvalidDataException($"{path}:{line}: the row has no \"{Metric.Step}\"");
                var row = new MetricsRow((long)step.GetDouble());
                foreach (var p in doc.RootElement.EnumerateObject())
                    row.Add(p.Name, p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : double.NaN);
                rows.Add(row);
            }
        }
        return rows;
    }
}
