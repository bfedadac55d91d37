using GpuNtk.Training.Telemetry;
using NUnit.Framework;

namespace GpuNtk.Tests.Training;

/// <summary>The append-only metrics logs: what a resume keeps, drops and reports.</summary>
public sealed class MetricsLogTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void Create() => _dir = new TempDirectory("gpuntk-metrics");

    [TearDown]
    public void Delete() => _dir.Dispose();

    private static string Row(long step) => $"{{\"step\":{step},\"train_loss\":{step}.5}}";

    [Test]
    public void ATornLastLineIsSkippedWithANoteAndDroppedOnResume()
    {
        var path = _dir["metrics.jsonl"];
        File.WriteAllText(path, Row(0) + "\n" + Row(10) + "\n" + Row(20) + "\n{\"step\":30,\"train_lo");
        var (rows, notes) = MetricsLog.ReadJsonlThrough(path, 20);
        Assert.That(rows.Select(r => r.Step), Is.EqualTo(new long[] { 0, 10, 20 }));
        Assert.That(notes, Has.Count.EqualTo(1).And.Some.Contain($"{path}:4"));
        MetricsLog.KeepThrough(path, 20, csv: false);
        Assert.That(File.ReadAllText(path), Is.EqualTo(Row(0) + "\n" + Row(10) + "\n" + Row(20) + "\n"));
    }

    [Test]
    public void RowsPastTheCheckpointAreDroppedAndEarlierOnesKeptByteForByte()
    {
        var path = _dir["metrics.jsonl"];
        var kept = Row(0) + "\n" + "{\"step\":10,  \"train_loss\":null}\n";
        File.WriteAllText(path, kept + Row(20) + "\n" + Row(30) + "\n");
        MetricsLog.KeepThrough(path, 10, csv: false);
        Assert.That(File.ReadAllText(path), Is.EqualTo(kept));
        Assert.That(Directory.GetFiles(_dir.Path, ".*.tmp"), Is.Empty);
    }

    [Test]
    public void NothingIsRewrittenWhenEveryRowIsTheResumedRunsOwn()
    {
        var path = _dir["metrics.jsonl"];
        File.WriteAllText(path, Row(0) + "\n" + Row(10) + "\n");
        var before = File.GetLastWriteTimeUtc(path);
        File.SetLastWriteTimeUtc(path, before.AddHours(-1));
        MetricsLog.KeepThrough(path, 10, csv: false);
        Assert.That(File.GetLastWriteTimeUtc(path), Is.EqualTo(before.AddHours(-1)));
    }

    [Test]
    public void CsvKeepsItsHeaderAndDropsTornAndLaterRows()
    {
        var path = _dir["metrics.csv"];
        File.WriteAllText(path, "step,train_loss\n0,1.5\n10,0.5\n20,0.25\n30,0.");
        MetricsLog.KeepThrough(path, 10, csv: true);
        Assert.That(File.ReadAllText(path), Is.EqualTo("step,train_loss\n0,1.5\n10,0.5\n"));
        Assert.That(MetricsLog.CsvColumns(path), Is.EqualTo(new[] { "step", "train_loss" }));
    }
}
