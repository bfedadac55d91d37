using GpuNtk.Data;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>What the divergence message promises: resuming the last good checkpoint with a smaller rate recovers.</summary>
public sealed class DivergenceRecoveryTests
{
    [Test]
    public void ADivergedRunResumedWithASmallerLearningRateCompletesAndItsLossFalls()
    {
        using var dir = new TempDirectory("gpuntk-diverge");
        SyntheticCifar10.Write(Path.Combine(dir["data"], SyntheticCifar10.DirectoryName), new SyntheticCifar10Options(TrainRecordsPerFile: 16, TestRecords: 16, Seed: 2));
        var config = new TrainConfig
        {
            Arch = "fcn:depth=1,width=32,in=3072,out=10",
            Data = new DataOptions(DataSource.Synthetic, dir["data"]),
            DType = ScalarType.Float64,
            Optimizer = OptimizerKind.Sgd,
            LearningRateFraction = 4, // full batch at 4·η_max: the network diverges
            BatchSize = 0,
            Steps = 60,
            LogEvery = 2,
            CheckpointEvery = 2,
            ProbeTrain = 16,
            ProbeTest = 16,
            NtkProbe = 4,
            ExplosionFactor = 20,
            Linearize = true,
        };
        var outDir = dir["run"];
        var diverged = Run(config, outDir, resume: false);
        Assert.That(diverged.Status, Is.EqualTo(TrainingStatus.Diverged), diverged.Message);
        Assert.That(diverged.Message, Does.Contain("smaller LearningRate"));

        var (meta, tensors) = TrainingCheckpointFile.Read(Path.Combine(outDir, Trainer.CheckpointFileName));
        foreach (var t in tensors.Values) t.Dispose();
        double etaMax = (double)meta["run"]!["EtaMax"]!;
        var recovered = Run(config with { LearningRate = 0.25 * etaMax }, outDir, resume: true);
        Assert.That(recovered.Status, Is.EqualTo(TrainingStatus.Completed), recovered.Message);
        var rows = JsonlSink.Read(Path.Combine(outDir, Trainer.MetricsJsonlFileName));
        Assert.That(rows[^1][Metric.TrainLoss], Is.LessThan(rows[0][Metric.TrainLoss]), "the resumed run trains the network down");
    }

    [Test]
    public void ADivergingCompanionIsNotTheNetworksDivergence()
    {
        using var dir = new TempDirectory("gpuntk-companion");
        SyntheticCifar10.Write(Path.Combine(dir["data"], SyntheticCifar10.DirectoryName), new SyntheticCifar10Options(TrainRecordsPerFile: 8, TestRecords: 8, Seed: 4));
        var config = new TrainConfig
        {
            Arch = "fcn:depth=1,width=16,in=3072,out=10",
            Data = new DataOptions(DataSource.Synthetic, dir["data"]),
            DType = ScalarType.Float64,
            Optimizer = OptimizerKind.Sgd,
            LearningRate = 0.5,
            BatchSize = 0,
            Steps = 6,
            LogEvery = 2,
            CheckpointEvery = 2,
            ProbeTrain = 8,
            ProbeTest = 8,
            NtkProbe = 0,
            Linearize = true,
        };
        var outDir = dir["run"];
        var summary = Run(config, outDir, resume: false, new TrainerHooks(Linearize: _ => new NanCompanion(3072, 10)));
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        var rows = JsonlSink.Read(Path.Combine(outDir, Trainer.MetricsJsonlFileName));
        Assert.That(double.IsFinite(rows[^1][Metric.TrainLoss]));
        Assert.That(rows[^1][Metric.LinearizationRmse], Is.NaN);
    }

    /// <summary>A companion that is NaN from its first step (log of 0 has an infinite gradient).</summary>
    private sealed class NanCompanion : TorchSharp.torch.nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Parameter _w;

        public NanCompanion(long inputs, long outputs) : base(nameof(NanCompanion))
        {
            _w = new TorchSharp.Modules.Parameter(zeros(inputs, outputs, ScalarType.Float64));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => x.flatten(1).matmul(_w).log();
    }

    private static TrainingSummary Run(TrainConfig config, string outDir, bool resume, TrainerHooks? hooks = null)
    {
        var sinks = new ITelemetrySink[] { new JsonlSink() };
        try { return new Trainer(config, CPU, outDir, sinks, hooks: hooks).Run(resume); }
        finally { foreach (var s in sinks) s.Dispose(); }
    }
}
