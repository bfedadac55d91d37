using System.Buffers.Binary;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;

namespace GpuNtk.Tests.Training;

public sealed class SinkTests
{
    private static TelemetryRun Run(string dir, IReadOnlyList<MetricsRow>? history = null) =>
        new(dir, new TrainConfig(), "test", 0, history ?? []);

    private static MetricsRow Row(long step, double loss) =>
        new MetricsRow(step).Add(Metric.Step, step).Add(Metric.BatchLoss, step == 0 ? double.NaN : loss).Add("drift/layers.1", loss / 2);

    [Test]
    public void CsvAndJsonlWriteEveryRowAndNanAsEmpty()
    {
        using var dir = new TempDirectory();
        using (var csv = new CsvSink())
        using (var jsonl = new JsonlSink())
        {
            csv.Begin(Run(dir.Path));
            jsonl.Begin(Run(dir.Path));
            foreach (var row in new[] { Row(0, 1), Row(10, 0.25) })
            {
                csv.Write(row);
                jsonl.Write(row);
            }
        }
        Assert.That(File.ReadAllLines(dir["metrics.csv"]), Is.EqualTo(new[] { "step,batch_loss,drift/layers.1", "0,,0.5", "10,0.25,0.125" }));
        var lines = File.ReadAllLines(dir["metrics.jsonl"]);
        Assert.That(lines[0], Is.EqualTo("{\"step\":0,\"batch_loss\":null,\"drift/layers.1\":0.5}"));
        var back = JsonlSink.Read(dir["metrics.jsonl"]);
        Assert.That(back[1].Step, Is.EqualTo(10));
        Assert.That(back[1]["drift/layers.1"], Is.EqualTo(0.125));
        Assert.That(double.IsNaN(back[0][Metric.BatchLoss]), Is.True);
    }

    [Test]
    public void ResumedSinksRewriteTheHistoryFirst()
    {
        using var dir = new TempDirectory();
        using (var csv = new CsvSink())
        {
            csv.Begin(Run(dir.Path, [Row(0, 1), Row(10, 0.5)]));
            csv.Write(Row(20, 0.25));
        }
        Assert.That(File.ReadAllLines(dir["metrics.csv"]), Has.Length.EqualTo(4));
    }

    [Test]
    public void TensorBoardEventFileHoldsValidRecordsWithTheScalars()
    {
        using var dir = new TempDirectory();
        var sink = new TensorBoardSink();
        sink.Begin(Run(dir.Path));
        sink.Write(Row(0, 1));
        sink.Write(Row(10, 0.25));
        var file = Directory.GetFiles(dir["tensorboard"], "events.out.tfevents.*").Single();
        var bytes = File.ReadAllBytes(file);
        var events = new List<Tensorboard.Event>();
        for (int pos = 0; pos < bytes.Length;)
        {
            // TFRecord: uint64 length, masked CRC32C of the length, data, masked CRC32C of the data.
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8)), Is.EqualTo(MaskedCrc(bytes.AsSpan(pos, 8))));
            var data = bytes.AsSpan(pos + 12, (int)length);
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 12 + (int)length)), Is.EqualTo(MaskedCrc(data)));
            events.Add(Tensorboard.Event.Parser.ParseFrom(data.ToArray()));
            pos += 16 + (int)length;
        }
        Assert.That(events[0].FileVersion, Is.EqualTo("brain.Event:2"));
        var scalars = events.Skip(1).Select(e => (e.Step, e.Summary.Value[0].Tag, e.Summary.Value[0].SimpleValue)).ToList();
        Assert.That(scalars, Does.Contain((10L, "batch_loss", 0.25f)));
        Assert.That(scalars, Does.Contain((10L, "drift/layers.1", 0.125f)));
        Assert.That(scalars.Any(s => s.Step == 0 && s.Tag == "batch_loss"), Is.False, "NaN is skipped");
        Assert.That(events.Skip(1).All(e => e.WallTime > 1.6e9 && e.WallTime < 1e10), Is.True, "wall time in Unix seconds");
    }

    private static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        // CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, then TensorFlow's mask.
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8;
    }
}
