using GpuNtk.Data;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>The engine on a module written here (TorchSharp's own layers, a residual add), not one built from a spec.</summary>
public sealed class ModuleTrainingTests
{
    /// <summary>conv(1→4) → relu → x + conv(4→4)(x) → relu → global average pool → Linear(4→3).</summary>
    private sealed class TinyResNet : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006 // module names as they appear in state_dict keys
        private readonly Conv2d stem;
        private readonly Conv2d block;
        private readonly Linear head;
        private readonly BatchNorm2d? norm;
#pragma warning restore IDE1006

        public TinyResNet(long seed, bool batchNorm = false) : base("tiny_resnet")
        {
            torch.manual_seed(seed);
            stem = nn.Conv2d(1, 4, 3, padding: 1, dtype: ScalarType.Float64);
            block = nn.Conv2d(4, 4, 3, padding: 1, dtype: ScalarType.Float64);
            head = nn.Linear(4, 3, dtype: ScalarType.Float64);
            norm = batchNorm ? nn.BatchNorm2d(4, dtype: ScalarType.Float64) : null;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = nn.functional.relu(stem.forward(x));
            if (norm is not null) h = norm.forward(h);
            h = nn.functional.relu(h + block.forward(h));
            return head.forward(h.mean([2L, 3L])).MoveToOuterDisposeScope();
        }
    }

    private TempDirectory _dir = null!;
    private LabeledData _train = null!;
    private LabeledData _test = null!;

    [OneTimeSetUp]
    public void MakeData()
    {
        _dir = new TempDirectory("gpuntk-module");
        using var g = new Generator(5);
        LabeledData Set(long n)
        {
            var labels = randint(0, 3, [n], ScalarType.Int64, generator: g);
            // The class shifts the mean brightness of one quadrant: learnable by the tiny network.
            var x = randn([n, 1, 8, 8], ScalarType.Float64, generator: g);
            x.narrow(2, 0, 4).narrow(3, 0, 4).add_(labels.to(ScalarType.Float64).view(n, 1, 1, 1));
            return new LabeledData(x, labels, Targets.Encode(labels, 3, 3, TargetEncoding.Centered, ScalarType.Float64), 3);
        }
        _train = Set(48);
        _test = Set(16);
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _train.Dispose();
        _test.Dispose();
        _dir.Dispose();
    }

    private static TrainConfig Config() => new()
    {
        Optimizer = OptimizerKind.AdamW, LearningRate = 0.01, WeightDecay = 0.01, Schedule = "cosine:warmup=3", ClipNorm = 0.5, Augment = true,
        BatchSize = 8, Steps = 12, LogEvery = 3, CheckpointEvery = 6, ProbeTrain = 12, ProbeTest = 8, NtkProbe = 6, DType = ScalarType.Float64, Seed = 3,
    };

    private (TrainingSummary Summary, List<MetricsRow> Rows) Run(TrainConfig config, string outDir, bool resume = false, long cancelAt = -1)
    {
        using var module = new TinyResNet(seed: 11);
        using var jsonl = new JsonlSink();
        using var cancel = new CancellationTokenSource();
        var run = Trainer.Create(module, _train, _test, config, outDir, [jsonl], hooks: new TrainerHooks(Replicate: () => new TinyResNet(seed: 0)));
        var summary = run.Run(resume, new CancelAt(cancelAt, cancel), cancel.Token);
        jsonl.Dispose();
        return (summary, JsonlSink.Read(Path.Combine(outDir, Trainer.MetricsJsonlFileName)));
    }

    [Test]
    public void InterruptedAndResumedRunEqualsTheUninterruptedOneExactly()
    {
        var config = Config();
        var whole = _dir["whole"];
        var (summary, expected) = Run(config, whole);
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        var split = _dir["split"];
        // Interrupted (like Ctrl+C) between checkpoints: the run saves its current step.
        var (first, _) = Run(config, split, cancelAt: 5);
        Assert.That(first.Status, Is.EqualTo(TrainingStatus.Cancelled));
        Assert.That(first.Steps, Is.EqualTo(5));
        var (second, actual) = Run(config, split, resume: true);
        Assert.That(second.Steps, Is.EqualTo(12));

        Assert.That(actual.Select(r => r.Step), Is.EqualTo(expected.Select(r => r.Step)));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.That(actual[i].Columns, Is.EqualTo(expected[i].Columns));
            foreach (var (name, value) in expected[i].Values.Where(v => !Metric.IsTiming(v.Key)))
                Assert.That(actual[i][name], double.IsNaN(value) ? Is.NaN : Is.EqualTo(value), $"step {expected[i].Step}, {name}");
        }
        var (_, a) = TrainingCheckpointFile.Read(Path.Combine(whole, Trainer.CheckpointFileName));
        var (_, b) = TrainingCheckpointFile.Read(Path.Combine(split, Trainer.CheckpointFileName));
        Assert.That(b.Keys, Is.EquivalentTo(a.Keys));
        foreach (var (name, t) in a)
            Assert.That(b[name].shape.SequenceEqual(t.shape) && b[name].eq(t).all().item<bool>(), Is.True, $"{name} differs bit for bit");
        Assert.That(a.Keys, Does.Contain("model.stem.weight").And.Contain("model.head.bias").And.Contain("optim.model.m.0").And.Contain("augment.rng"));
    }

    [Test]
    public void RegressionDataHasNoAccuracyColumns()
    {
        // The same inputs with real-valued targets and no classes (as .npy regression data loads).
        static LabeledData AsRegression(LabeledData d) =>
            new(d.Inputs.clone(), zeros_like(d.Labels), d.Targets.mul(0.5).add(0.1), classes: 0);
        using var train = AsRegression(_train);
        using var test = AsRegression(_test);
        using var module = new TinyResNet(seed: 11);
        using var jsonl = new JsonlSink();
        var outDir = _dir["regression"];
        var run = Trainer.Create(module, train, test, Config() with { Steps = 3, Augment = false, Optimizer = OptimizerKind.Sgd, Schedule = "constant" },
                                 outDir, [jsonl], hooks: new TrainerHooks(Replicate: () => new TinyResNet(seed: 0)));
        var summary = run.Run(false, null, CancellationToken.None);
        jsonl.Dispose();
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        var rows = JsonlSink.Read(Path.Combine(outDir, Trainer.MetricsJsonlFileName));
        Assert.That(rows[^1].Columns, Does.Contain(Metric.TrainLoss).And.Contain(Metric.LinearizedTestLoss));
        Assert.That(rows.SelectMany(r => r.Columns).Where(c => c.EndsWith("_acc", StringComparison.Ordinal)), Is.Empty);
        Assert.That(summary.Final.Keys, Does.Contain("test_loss").And.Not.Contain("test_acc"));
        Assert.That(summary.Message, Does.Not.Contain("acc"));
    }

    private sealed class CancelAt(long step, CancellationTokenSource cancel) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.Step == step) cancel.Cancel();
        }
    }

    [Test]
    public void TelemetryNamesEverySubmoduleAndNormalisesByWidthOnlyWhenGiven()
    {
        var (summary, rows) = Run(Config() with { Steps = 3, Augment = false }, _dir["columns"]);
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        Assert.That(rows[0].Columns, Does.Contain("drift/stem").And.Contain("drift/block").And.Contain("drift/head"));
        Assert.That(rows[0].Columns, Does.Not.Contain(Metric.ParamDistancePerSqrtWidth));
        Assert.That(rows[^1][Metric.NtkChange], Is.GreaterThan(0));
        Assert.That(rows[^1][Metric.LinearizationError], Is.GreaterThan(0));
        Assert.That(rows[^1][Metric.ParamDrift], Is.GreaterThan(0));

        var (_, withWidth) = Run(Config() with { Steps = 3, Width = 4 }, _dir["width"]);
        Assert.That(withWidth[^1][Metric.ParamDistancePerSqrtWidth], Is.EqualTo(withWidth[^1][Metric.ParamDistance] / 2).Within(1e-15));
    }

    [Test]
    public void BatchNormInTrainingModeIsRefusedWithTheReasonAndEvalModeIsAccepted()
    {
        using var module = new TinyResNet(seed: 1, batchNorm: true);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Create(module, _train, _test, Config(), _dir["bn"]));
        Assert.That(e!.Message, Does.Contain("BatchNorm2d 'norm'").And.Contain("depend on the rest of its batch").And.Contain(".eval()"));
        module.eval();
        Assert.DoesNotThrow(() => Trainer.Create(module, _train, _test, Config(), _dir["bn-eval"]));
    }

    [Test]
    public void TheLinearizedCompanionOfAForeignModuleNeedsReplicate()
    {
        using var module = new TinyResNet(seed: 1);
        var run = Trainer.Create(module, _train, _test, Config() with { Steps = 1 }, _dir["no-replicate"]);
        var e = Assert.Throws<ArgumentException>(() => run.Run());
        Assert.That(e!.Message, Does.Contain("Replicate").And.Contain("Linearize = false"));
    }
}
