using GpuNtk.Data;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>A resume reports damaged metrics logs instead of repairing them silently, and appends after the rows it keeps.</summary>
public sealed class MetricsResumeTests
{
    [Test]
    public void MissingRowsAndATornLineAreReportedAndTheResumeAppendsAfterTheKeptRows()
    {
        using var dir = new TempDirectory("gpuntk-metrics-resume");
        SyntheticCifar10.Write(Path.Combine(dir["data"], SyntheticCifar10.DirectoryName), new SyntheticCifar10Options(TrainRecordsPerFile: 8, TestRecords: 8, Seed: 6));
        var config = new TrainConfig
        {
            Arch = "fcn:depth=1,width=16,in=3072,out=10",
            Data = new DataOptions(DataSource.Synthetic, dir["data"]),
            DType = ScalarType.Float64,
            Optimizer = OptimizerKind.Sgd,
            LearningRate = 0.5,
            BatchSize = 8,
            Steps = 8,
            LogEvery = 2,
            CheckpointEvery = 4,
            ProbeTrain = 8,
            ProbeTest = 8,
            NtkProbe = 0,
            Linearize = false,
        };
        var outDir = dir["run"];
        Assert.That(Run(config, outDir, resume: false, new ListLogger()).Status, Is.EqualTo(TrainingStatus.Completed));
        var jsonl = Path.Combine(outDir, Trainer.MetricsJsonlFileName);
        var lines = File.ReadAllLines(jsonl);
        // Rows 2–6 lost (as a crash of an old rewrite-on-resume did), and a torn write at the end.
        File.WriteAllText(jsonl, lines[0] + "\n" + lines[4] + "\n{\"step\":9,\"tra");

        var logger = new ListLogger();
        Assert.That(Run(config with { Steps = 12 }, outDir, resume: true, logger).Status, Is.EqualTo(TrainingStatus.Completed));
        Assert.That(logger.Warnings, Has.Some.Contain("rows between steps 0 and 8 are missing"));
        Assert.That(logger.Warnings, Has.Some.Contain($"{jsonl}:3: not a complete metrics row"));
        Assert.That(JsonlSink.Read(jsonl).Select(r => r.Step), Is.EqualTo(new long[] { 0, 8, 10, 12 }), "nothing made up, nothing lost");
        Assert.That(File.ReadAllLines(jsonl)[..2], Is.EqualTo(new[] { lines[0], lines[4] }), "the kept rows byte for byte");

        File.Delete(jsonl);
        logger = new ListLogger();
        Assert.That(Run(config with { Steps = 14 }, outDir, resume: true, logger).Status, Is.EqualTo(TrainingStatus.Completed));
        Assert.That(logger.Warnings, Has.Some.Contain("is missing though the checkpoint is at step 12"));
    }

    [Test]
    public void AFreshRunRefusesAFolderWithAnEarlierRunsMetrics()
    {
        using var dir = new TempDirectory("gpuntk-metrics-fresh");
        File.WriteAllText(dir[Trainer.MetricsJsonlFileName], "{\"step\":0}\n");
        using var data = new LabeledData(randn(4, 3, ScalarType.Float64), zeros(4, ScalarType.Int64), zeros(4, 2, ScalarType.Float64), 2);
        using var module = TorchSharp.torch.nn.Linear(3, 2, dtype: ScalarType.Float64);
        var run = Trainer.Create(module, data, data, new TrainConfig { BatchSize = 0, Steps = 1, ProbeTrain = 2, ProbeTest = 2, NtkProbe = 0, Linearize = false, DType = ScalarType.Float64 }, dir.Path);
        var e = Assert.Throws<ArgumentException>(() => run.Run())!;
        Assert.That(e.Message, Does.Contain("already holds the metrics of an earlier run"));
    }

    private static TrainingSummary Run(TrainConfig config, string outDir, bool resume, ILogger logger)
    {
        var sinks = new ITelemetrySink[] { new JsonlSink(), new CsvSink() };
        try { return new Trainer(config, CPU, outDir, sinks, logger).Run(resume); }
        finally { foreach (var s in sinks) s.Dispose(); }
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning) Warnings.Add(formatter(state, exception));
        }
    }
}
