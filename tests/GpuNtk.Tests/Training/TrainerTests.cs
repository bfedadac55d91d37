using GpuNtk.Data;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>End-to-end runs on a small synthetic CIFAR-format set (200 training, 60 test images).</summary>
public sealed class TrainerTests
{
    private TempDirectory _dir = null!;

    [OneTimeSetUp]
    public void WriteData()
    {
        _dir = new TempDirectory("gpuntk-trainer");
        SyntheticCifar10.Write(Path.Combine(_dir.Path, "data", SyntheticCifar10.DirectoryName),
            // An easier variant than the default (strong templates, little clutter) so 200 images generalise.
            new SyntheticCifar10Options(TrainRecordsPerFile: 40, TestRecords: 60, Seed: 1, Signal: 40, Nuisance: 10, Noise: 30));
    }

    [OneTimeTearDown]
    public void Cleanup() => _dir.Dispose();

    private TrainConfig Config() => new()
    {
        Arch = "fcn:depth=1,width=32,in=3072,out=10",
        Data = new DataOptions(DataSource.Synthetic, Path.Combine(_dir.Path, "data")),
        DType = ScalarType.Float64,
        Optimizer = OptimizerKind.Momentum,
        LearningRate = 0.5,
        BatchSize = 32,
        Steps = 60,
        LogEvery = 10,
        ProbeTrain = 32,
        ProbeTest = 32,
        NtkProbe = 4,
        CheckpointEvery = 20,
        Linearize = false,
    };

    private string Out(string name) => Path.Combine(_dir.Path, "runs", name + "-" + Guid.NewGuid().ToString("N")[..8]);

    private static (TrainingSummary Summary, List<MetricsRow> Rows) Run(TrainConfig config, string outDir, bool resume = false)
    {
        var sinks = new ITelemetrySink[] { new CsvSink(), new JsonlSink(), new TensorBoardSink() };
        try
        {
            var summary = new Trainer(config, CPU, outDir, sinks).Run(resume);
            foreach (var s in sinks) s.Dispose();
            return (summary, JsonlSink.Read(Path.Combine(outDir, Trainer.MetricsJsonlFileName)));
        }
        finally
        {
            foreach (var s in sinks) s.Dispose();
        }
    }

    [Test]
    public void LossDecreasesOnSyntheticDataAndEveryOutputIsWritten()
    {
        var outDir = Out("learn");
        var (summary, rows) = Run(Config(), outDir);
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        Assert.That(rows.Select(r => r.Step), Is.EqualTo(new long[] { 0, 10, 20, 30, 40, 50, 60 }));
        Assert.That(rows[^1][Metric.TrainLoss], Is.LessThan(0.5 * rows[0][Metric.TrainLoss]));
        Assert.That(rows[^1][Metric.TrainAccuracy], Is.GreaterThan(0.3));
        Assert.That(summary.Final["test_acc"], Is.GreaterThan(0.2), "clearly better than chance (10%) on held-out images");
        Assert.That(rows[^1][Metric.NtkChange], Is.GreaterThan(0));
        Assert.That(rows[^1][Metric.ParamDrift], Is.GreaterThan(0));
        Assert.That(rows[^1][Metric.Time], Is.EqualTo(60), "time is counted in steps");
        Assert.That(rows[0].Contains(Metric.LinearizationError), Is.False, "no linearized model, no column");
        foreach (var file in new[] { "metrics.csv", "metrics.jsonl", "checkpoint.bin", "config.json" })
            Assert.That(File.Exists(Path.Combine(outDir, file)), Is.True, file);
        Assert.That(Directory.GetFiles(Path.Combine(outDir, "tensorboard"), "events.out.tfevents.*"), Is.Not.Empty);
        var csv = File.ReadAllLines(Path.Combine(outDir, "metrics.csv"));
        Assert.That(csv, Has.Length.EqualTo(8));
        Assert.That(csv[0], Does.StartWith("step,time,wall_s,examples_per_s,batch_loss,train_loss,train_acc,test_loss,test_acc,ntk_change"));
    }

    [TestCase(OptimizerKind.Nesterov)]
    [TestCase(OptimizerKind.Flow)]
    public void ResumedRunReproducesTheUninterruptedRun(OptimizerKind optimizer)
    {
        // Flow: adaptive Dormand–Prince, whose step size must survive the checkpoint for the runs to agree.
        var config = optimizer == OptimizerKind.Flow
            ? Config() with { Optimizer = optimizer, Steps = 20, LogEvery = 5, CheckpointEvery = 10, LearningRate = 1, NtkProbe = 0, FlowRelativeTolerance = 1e-4 }
            : Config() with { Optimizer = optimizer, Steps = 20, LogEvery = 5, CheckpointEvery = 10, Linearize = true };
        var (whole, expected) = Run(config, Out("whole"));
        var split = Out("split");
        var (first, _) = Run(config with { Steps = config.Steps / 2 }, split);
        var (second, actual) = Run(config, split, resume: true);
        Assert.That(whole.Status, Is.EqualTo(TrainingStatus.Completed));
        Assert.That(first.Steps, Is.EqualTo(config.Steps / 2));
        Assert.That(second.Steps, Is.EqualTo(config.Steps));
        Assert.That(actual.Select(r => r.Step), Is.EqualTo(expected.Select(r => r.Step)));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.That(actual[i].Columns, Is.EqualTo(expected[i].Columns));
            foreach (var (name, value) in expected[i].Values)
            {
                if (Metric.IsTiming(name)) continue;
                if (double.IsNaN(value))
                {
                    Assert.That(double.IsNaN(actual[i][name]), Is.True, $"step {expected[i].Step}, {name}");
                    continue;
                }
                Assert.That(actual[i][name], Is.EqualTo(value).Within(Math.Abs(value) * 1e-12), $"step {expected[i].Step}, {name}");
            }
        }
    }

    [Test]
    public void DivergenceStopsTheRunAndKeepsTheLastGoodCheckpoint()
    {
        // Linear model, full batch, probe = the whole training set: η_max is exact; 1.3·η_max grows the top mode
        // by |1 − 2.6| per step, so the loss explodes after a few checkpoints.
        var config = Config() with
        {
            Arch = "fcn:depth=0,in=3072,out=10", Optimizer = OptimizerKind.Sgd, BatchSize = 0, ProbeTrain = 200, NtkProbe = 0,
            Steps = 200, CheckpointEvery = 3, LogEvery = 50,
        };
        var data = DatasetLoader.Load(config.Data, 10, ScalarType.Float64, CPU);
        double lambda;
        using (data)
        using (var net = GpuNtk.Networks.NetworkFactory.Create(config.Arch, config.Seed, ScalarType.Float64))
            lambda = LearningRateSafety.LargestNtkEigenvalue(net, data.Train.Inputs, 300, 1e-10);
        double etaMax = LearningRateSafety.MaxLearningRate(lambda, 200, 10, LossKind.Mse, OptimizerKind.Sgd, 0);
        var outDir = Out("diverge");
        var (summary, _) = Run(config with { LearningRate = 1.3 * etaMax }, outDir);

        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Diverged));
        Assert.That(summary.Steps, Is.InRange(4, 100));
        Assert.That(summary.Message, Does.Contain("diverged").And.Contain("last good checkpoint").And.Contain("resume"));
        var (meta, tensors) = TrainingCheckpointFile.Read(Path.Combine(outDir, Trainer.CheckpointFileName));
        long saved = (long)meta["step"]!;
        Assert.That(saved, Is.LessThan(summary.Steps).And.GreaterThan(0));
        foreach (var (name, t) in tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)))
            Assert.That(t.isfinite().all().item<bool>(), Is.True, name);

        // As the message says: resume from the last good checkpoint with a smaller rate.
        var (recovered, rows) = Run(config with { LearningRate = 0.5 * etaMax, Steps = saved + 30 }, outDir, resume: true);
        Assert.That(recovered.Status, Is.EqualTo(TrainingStatus.Completed), recovered.Message);
        Assert.That(rows[^1].Step, Is.EqualTo(saved + 30));
        Assert.That(rows[^1][Metric.TrainLoss], Is.LessThan(rows[0][Metric.TrainLoss]));
    }

    [Test]
    public void LinearizedModelTrainsAlongsideAndItsErrorIsLogged()
    {
        var (summary, rows) = Run(Config() with { Steps = 30, Linearize = true, LearningRate = 0.2 }, Out("lin"));
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        Assert.That(rows[0][Metric.LinearizationError], Is.EqualTo(0), "f_lin = f at θ0");
        Assert.That(rows[^1][Metric.LinearizationError], Is.GreaterThan(0));
        Assert.That(rows[^1][Metric.LinearizedTrainLoss], Is.LessThan(0.7 * rows[0][Metric.LinearizedTrainLoss]), "f_lin learns too");
        // Width 32 is narrow, but after 30 small steps f and f_lin still agree far better than f moved.
        double moved = Math.Abs(rows[^1][Metric.TrainLoss] - rows[0][Metric.TrainLoss]);
        Assert.That(Math.Abs(rows[^1][Metric.LinearizedTrainLoss] - rows[^1][Metric.TrainLoss]), Is.LessThan(0.5 * moved));
        Assert.That(rows[^1].Columns, Does.Contain(Metric.LinearizationRmse).And.Contain(Metric.LinearizationTestRmse));
    }

    [Test]
    public void InitFromMakesTheFileWeightsTheStartingPoint()
    {
        var config = Config() with { Steps = 10, NtkProbe = 0 };
        using var donor = GpuNtk.Networks.NetworkFactory.Create(config.Arch, seed: 77, ScalarType.Float64);
        var path = Path.Combine(_dir.Path, "donor.pt");
        GpuNtk.Checkpoints.CheckpointFiles.SaveStateDict(path, donor.state_dict());
        var outDir = Out("init");
        var (summary, rows) = Run(config with { InitFrom = path }, outDir);
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed));
        var (_, tensors) = TrainingCheckpointFile.Read(Path.Combine(outDir, Trainer.CheckpointFileName));
        foreach (var (name, p) in donor.named_parameters())
            Assert.That(tensors["theta0." + name].eq(p.detach()).all().item<bool>(), Is.True, name);
        Assert.That(rows[0][Metric.ParamDrift], Is.EqualTo(0));
    }

    [Test]
    public void CancellationSavesTheCurrentStepAndResumeFinishesTheRun()
    {
        var config = Config() with { Steps = 20, NtkProbe = 0, CheckpointEvery = 0 };
        var outDir = Out("cancel");
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress(p => { if (p.Step == 7) cancel.Cancel(); });
        var summary = new Trainer(config, CPU, outDir, []).Run(progress: progress, cancellation: cancel.Token);
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Cancelled));
        Assert.That(summary.Steps, Is.EqualTo(7));
        var (meta, _) = TrainingCheckpointFile.Read(Path.Combine(outDir, Trainer.CheckpointFileName));
        Assert.That((long)meta["step"]!, Is.EqualTo(7));
        var (resumed, _) = Run(config, outDir, resume: true);
        Assert.That(resumed.Status, Is.EqualTo(TrainingStatus.Completed));
        Assert.That(resumed.Steps, Is.EqualTo(20));
    }

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    [Test]
    public void NanLossIsDivergence()
    {
        using var monitor = new DivergenceMonitor(1.0, 100, CPU);
        monitor.Observe(tensor(3.0));
        Assert.That(monitor.Check().Diverged, Is.False);
        monitor.Observe(tensor(double.NaN));
        monitor.Observe(tensor(2.0));
        var (diverged, worst) = monitor.Check();
        Assert.That(diverged, Is.True);
        Assert.That(worst, Is.EqualTo(double.PositiveInfinity));
        monitor.Observe(tensor(101.0));
        Assert.That(monitor.Check().Diverged, Is.True, "above 100 × the reference");
    }

    [Test]
    public void ExistingRunIsNotOverwrittenAndResumeNeedsACheckpoint()
    {
        var outDir = Out("twice");
        Run(Config() with { Steps = 10, NtkProbe = 0 }, outDir);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Config(), CPU, outDir, []).Run());
        Assert.That(e!.Message, Does.Contain("resume"));
        Assert.Throws<FileNotFoundException>(() => new Trainer(Config(), CPU, Out("none"), []).Run(resume: true));
    }
}
