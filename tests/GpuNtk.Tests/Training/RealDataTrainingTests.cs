using GpuNtk.Data;
using GpuNtk.Networks;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>
/// Training on real images: Debian's Fashion-MNIST (package dataset-fashion-mnist, which .ci/run installs). Skipped,
/// with the reason, where the package is absent.
/// </summary>
[Category("RealData")]
public sealed class RealDataTrainingTests
{
    [Test]
    public void DefaultFcnLearnsFashionMnistToAtLeastEightyPercent()
    {
        var system = IdxDataset.FashionMnist.SystemDirectory!;
        if (!IdxDataset.FashionMnist.HasAllFiles(system))
            Assert.Ignore($"Fashion-MNIST is not in {system}: `apt-get install dataset-fashion-mnist` (Debian) to run this test");
        using var dir = new TempDirectory("gpuntk-fashion");
        var defaults = new TrainConfig();
        var spec = (FcnSpec)ArchitectureSpec.Parse(TrainConfig.DefaultArch) with { Inputs = 784 };
        var config = defaults with
        {
            Arch = spec.ToString(),
            // An empty data folder: the loader falls back to the system folder.
            Data = new DataOptions(DataSource.FashionMnist, dir.Path, TrainSize: 10_000, TestSize: 0),
            Linearize = false,
            LogEvery = 1000,
            CheckpointEvery = 0,
        };
        var sinks = new ITelemetrySink[] { new JsonlSink() };
        TrainingSummary summary;
        try
        {
            summary = new Trainer(config, CPU, Path.Combine(dir.Path, "run"), sinks).Run(resume: false);
        }
        finally
        {
            foreach (var s in sinks) s.Dispose();
        }
        Assert.That(summary.Status, Is.EqualTo(TrainingStatus.Completed), summary.Message);
        TestContext.Out.WriteLine($"Fashion-MNIST, {config.Steps} steps: test accuracy {summary.Final["test_acc"]:P2} on all 10,000 test images");
        Assert.That(summary.Final["test_acc"], Is.GreaterThanOrEqualTo(0.80));
    }
}
