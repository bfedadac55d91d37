using System.Text;
using GpuNtk.Data;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;

namespace GpuNtk.Tests.Training.Faults;

/// <summary>
/// Fault injection on real <c>gpuntk train</c> processes (a width-16 FCN on 64 synthetic images, float64, minibatch SGD
/// with the linearized companion, a row every 2 steps and a checkpoint every 4): SIGKILL at points chosen by events in
/// the run folder (the lock taken, the first checkpoint, rows appearing) and SIGTERM, each followed by a resume, must
/// give the metrics of an uninterrupted run in every non-timing column; a second process on a folder is refused; a
/// flipped checkpoint byte is a clear error.
/// </summary>
[NonParallelizable]
public sealed class TrainFaultInjectionTests
{
    private const int Steps = 40;
    private TempDirectory _dir = null!;
    private List<MetricsRow> _reference = null!;

    private string DataDir => _dir["data"];

    private string[] Train(string outDir, long steps = Steps, int checkpointEvery = 4) =>
    [
        "train", "--data", "synthetic", "--data-dir", DataDir, "--arch", "fcn:depth=1,width=16", "--train-size", "64", "--test-size", "32",
        "--probe", "16", "--ntk-probe", "8", "--dtype", "float64", "--optimizer", "sgd", "--lr", "2", "--batch", "16", "--steps", steps.ToString(),
        "--log-every", "2", "--checkpoint-every", checkpointEvery.ToString(), "--seed", "5", "--no-plots", "--no-tensorboard", "--out", outDir,
    ];

    private string[] Resume(string outDir) => ["train", "--resume", "--out", outDir, "--no-plots", "--no-tensorboard"];

    [OneTimeSetUp]
    public void ReferenceRun()
    {
        TrainProcess.RequireBuilt();
        _dir = new TempDirectory("gpuntk-faults");
        SyntheticCifar10.Write(Path.Combine(DataDir, SyntheticCifar10.DirectoryName),
            new SyntheticCifar10Options(TrainRecordsPerFile: 20, TestRecords: 40, Seed: 3));
        var (code, output) = TrainProcess.Run(_dir.Path, Train(_dir["reference"]));
        Assert.That(code, Is.Zero, output);
        _reference = Rows(_dir["reference"]);
        Assert.That(_reference.Select(r => r.Step), Is.EqualTo(Enumerable.Range(0, Steps / 2 + 1).Select(i => 2L * i)), "one row every 2 steps");
    }

    [OneTimeTearDown]
    public void Cleanup() => _dir?.Dispose();

    [Test]
    public void SigkillAtEventChosenPointsThenResumeReproducesEveryNonTimingColumn()
    {
        var run = _dir["killed"];
        // Each process is killed right after an event: the run-folder lock taken (start-up), the first checkpoint on
        // disk, rows of step ≥ 14 and ≥ 26 in metrics.jsonl (mid-stretch, often while a row or checkpoint is written).
        var killAfter = new (string Event, Func<TrainProcess, bool> Happened)[]
        {
            ("checkpoint.bin written", _ => File.Exists(Path.Combine(run, Trainer.CheckpointFileName))),
            ("a row of step ≥ 14", _ => LastStep(run) >= 14),
            ("the lock taken by the resumed process", p => OwnerIs(run, p.Id)),
            ("a row of step ≥ 26", _ => LastStep(run) >= 26),
        };
        int landed = 0;
        for (int i = 0; i < killAfter.Length; i++)
        {
            using var p = TrainProcess.Start(_dir.Path, i == 0 ? Train(run) : Resume(run));
            Assert.That(p.WaitUntil(() => killAfter[i].Happened(p)), $"the process ended before {killAfter[i].Event}:\n{p.Output}");
            if (p.KillHard()) landed++;
        }
        var (code, output) = TrainProcess.Run(_dir.Path, Resume(run));
        Assert.That(code, Is.Zero, output);
        TestContext.Out.WriteLine($"SIGKILL: {landed} of {killAfter.Length} kills landed in a running process; the final resume completed");
        Assert.That(landed, Is.GreaterThanOrEqualTo(3));
        AssertSameMetrics(Rows(run));
        Assert.That(Directory.GetFiles(run, ".*.tmp"), Is.Empty, "the killed processes' temporary files are removed");
    }

    [Test]
    public void SigtermFinishesTheStepCheckpointsAndExits143ThenResumeIsExact()
    {
        var run = _dir["terminated"];
        using (var p = TrainProcess.Start(_dir.Path, Train(run)))
        {
            Assert.That(p.WaitUntil(() => LastStep(run) >= 10), p.Output);
            p.Terminate();
            int code = p.WaitForExit();
            if (code != 0) // 0 only if the run ended before the signal came, on a very fast machine
            {
                Assert.That(code, Is.EqualTo(143), p.Output);
                Assert.That(p.Output, Does.Contain("SIGTERM").And.Contain("saved to"), p.Output);
            }
        }
        var saved = Trainer.ReadCheckpointConfig(Path.Combine(run, Trainer.CheckpointFileName));
        Assert.That(saved.Steps, Is.EqualTo(Steps));
        var (resumed, output) = TrainProcess.Run(_dir.Path, Resume(run));
        Assert.That(resumed, Is.Zero, output);
        AssertSameMetrics(Rows(run));
    }

    [Test]
    public void ASecondProcessOnTheSameRunFolderIsRefusedNamingTheHolder()
    {
        var run = _dir["shared"];
        using var first = TrainProcess.Start(_dir.Path, Train(run, steps: 100000));
        Assert.That(first.WaitUntil(() => File.Exists(Path.Combine(run, Trainer.CheckpointFileName))), first.Output);
        var (code, output) = TrainProcess.Run(_dir.Path, Resume(run));
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain($"PID {first.Id}").And.Contain(Environment.MachineName).And.Contain("in use"));
        var (fresh, freshOutput) = TrainProcess.Run(_dir.Path, Train(run));
        Assert.That(fresh, Is.EqualTo(1), freshOutput);
        Assert.That(freshOutput, Does.Contain($"PID {first.Id}"));
        Assert.That(first.KillHard(), "the first process still trains, undisturbed");
    }

    [Test]
    public void AFlippedCheckpointByteIsAClearErrorNamingTheFileAndTheIntactPreviousGeneration()
    {
        var run = _dir["flipped"];
        using (var p = TrainProcess.Start(_dir.Path, Train(run)))
        {
            // Two checkpoints: the latest and the previous generation.
            Assert.That(p.WaitUntil(() => File.Exists(Path.Combine(run, "checkpoint.prev.bin"))), p.Output);
            p.KillHard();
        }
        var path = Path.Combine(run, Trainer.CheckpointFileName);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length - 100] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var (code, output) = TrainProcess.Run(_dir.Path, Resume(run));
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain(path).And.Contain("checksum").And.Contain("checkpoint.prev.bin is intact"));
        Assert.That(output, Does.Not.Contain("   at "), "no stack trace");

        File.Move(Path.Combine(run, "checkpoint.prev.bin"), path, overwrite: true);
        var (resumed, resumedOutput) = TrainProcess.Run(_dir.Path, Resume(run));
        Assert.That(resumed, Is.Zero, resumedOutput);
        AssertSameMetrics(Rows(run));
    }

    private void AssertSameMetrics(List<MetricsRow> rows)
    {
        Assert.That(rows.Select(r => r.Step), Is.EqualTo(_reference.Select(r => r.Step)), "the same rows, none lost, none twice");
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.That(rows[i].Columns, Is.EqualTo(_reference[i].Columns), $"columns of step {rows[i].Step}");
            foreach (var (name, value) in _reference[i].Values)
                if (!Metric.IsTiming(name))
                    Assert.That(rows[i][name], Is.EqualTo(value), $"{name} at step {rows[i].Step}");
        }
    }

    private static List<MetricsRow> Rows(string run) => JsonlSink.Read(Path.Combine(run, Trainer.MetricsJsonlFileName));

    /// <summary>The step of the last complete row in metrics.jsonl, −1 when there is none yet.</summary>
    private static long LastStep(string run)
    {
        var text = ReadShared(Path.Combine(run, Trainer.MetricsJsonlFileName));
        var last = text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (last is null) return -1;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(last);
            return (long)doc.RootElement.GetProperty(Metric.Step).GetDouble();
        }
        catch (System.Text.Json.JsonException)
        {
            return -1;
        }
    }

    private static bool OwnerIs(string run, int pid) => ReadShared(Path.Combine(run, RunFolderLock.OwnerFileName)).Contains($"\"pid\":{pid},", StringComparison.Ordinal);

    private static string ReadShared(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var r = new StreamReader(s, Encoding.UTF8);
            return r.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return "";
        }
    }
}
