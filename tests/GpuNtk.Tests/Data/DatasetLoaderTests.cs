using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

public sealed class DatasetLoaderTests
{
    private SyntheticDataRoot _dir = null!;

    [OneTimeSetUp]
    public void WriteData() => _dir = new SyntheticDataRoot(new SyntheticCifar10Options(TrainRecordsPerFile: 40, TestRecords: 50, Seed: 2));

    [OneTimeTearDown]
    public void Cleanup() => _dir.Dispose();

    [Test]
    public void StandardisesPerChannelWithTrainingStatistics()
    {
        var options = new DataOptions(DataSource.Synthetic, _dir.Path, Flatten: false);
        using var data = DatasetLoader.Load(options, 10, ScalarType.Float64, CPU);
        Assert.That(data.Train.Inputs.shape, Is.EqualTo(new long[] { 200, 3, 32, 32 }));
        using var mean = data.Train.Inputs.mean([0L, 2L, 3L]);
        using var std = data.Train.Inputs.std([0L, 2L, 3L], unbiased: false);
        Assert.That(mean.abs().max().item<double>(), Is.LessThan(1e-10));
        Assert.That((std - 1).abs().max().item<double>(), Is.LessThan(1e-10));
        // Independently: the test images standardised with the raw training statistics.
        using var rawTrain = Cifar10Reader.ReadTrain(options.Directory);
        using var rawTest = Cifar10Reader.ReadTest(options.Directory);
        using var xt = rawTrain.Pixels.to(ScalarType.Float64) / 255;
        using var m = xt.mean([0L, 2L, 3L], keepdim: true);
        using var s = xt.std([0L, 2L, 3L], keepdim: true, unbiased: false);
        using var expected = (rawTest.Pixels.to(ScalarType.Float64) / 255 - m) / s;
        Assert.That((data.Test.Inputs - expected).abs().max().item<double>(), Is.LessThan(1e-12));
        Assert.That(data.ChannelMean[1], Is.EqualTo(m[0, 1, 0, 0].item<double>()).Within(1e-15));
    }

    [Test]
    public void ClassSubsetRenumbersLabelsAndSubsetSizesAreSeeded()
    {
        var options = new DataOptions(DataSource.Synthetic, _dir.Path, Classes: [7, 2], TrainSize: 25, TestSize: 6, Seed: 4);
        using var a = DatasetLoader.Load(options, 2, ScalarType.Float32, CPU);
        using var b = DatasetLoader.Load(options, 2, ScalarType.Float32, CPU);
        using var c = DatasetLoader.Load(options with { Seed = 5 }, 2, ScalarType.Float32, CPU);
        Assert.That(a.Train.Count, Is.EqualTo(25));
        Assert.That(a.Test.Count, Is.EqualTo(6));
        Assert.That(a.Train.Inputs.shape, Is.EqualTo(new long[] { 25, 3072 }));
        Assert.That(a.Train.Labels.data<long>().ToArray(), Is.All.InRange(0L, 1L));
        Assert.That(a.Train.Inputs.eq(b.Train.Inputs).all().item<bool>(), Is.True, "same seed, same subset");
        Assert.That(a.Train.Inputs.eq(c.Train.Inputs).all().item<bool>(), Is.False, "other seed, other subset");

        // Label 0 means original class 7: every such example's raw label was 7.
        using var raw = Cifar10Reader.ReadTrain(options.Directory);
        long sevens = raw.Labels.eq(7).sum().item<long>();
        using var all = DatasetLoader.Load(options with { TrainSize = 0 }, 2, ScalarType.Float32, CPU);
        Assert.That(all.Train.Labels.eq(0).sum().item<long>(), Is.EqualTo(sevens));
    }

    [Test]
    public void TargetEncodings()
    {
        using var labels = tensor(new long[] { 2, 0 });
        using var oneHot = Targets.Encode(labels, 3, 3, TargetEncoding.OneHot, ScalarType.Float64);
        using var centered = Targets.Encode(labels, 3, 3, TargetEncoding.Centered, ScalarType.Float64);
        using var signed = Targets.Encode(labels, 3, 3, TargetEncoding.Signed, ScalarType.Float64);
        using var scalar = Targets.Encode(tensor(new long[] { 1, 0 }), 2, 1, TargetEncoding.Signed, ScalarType.Float64);
        Assert.That(oneHot.data<double>().ToArray(), Is.EqualTo(new double[] { 0, 0, 1, 1, 0, 0 }));
        Assert.That(centered.data<double>().ToArray(), Is.EqualTo(new[] { -0.1, -0.1, 0.9, 0.9, -0.1, -0.1 }).Within(1e-15));
        Assert.That(signed.data<double>().ToArray(), Is.EqualTo(new double[] { -1, -1, 1, 1, -1, -1 }));
        Assert.That(scalar.data<double>().ToArray(), Is.EqualTo(new double[] { 1, -1 }));
        Assert.Throws<ArgumentException>(() => Targets.Encode(labels, 3, 1, TargetEncoding.OneHot, ScalarType.Float64));
    }

    [Test]
    public void AskingForMoreExamplesThanExistFailsClearly()
    {
        var options = new DataOptions(DataSource.Synthetic, _dir.Path, Classes: [0, 1], TrainSize: 1000);
        var e = Assert.Throws<ArgumentException>(() => DatasetLoader.Load(options, 2, ScalarType.Float32, CPU));
        Assert.That(e!.Message, Does.Contain("1000 training examples").And.Contain("have 40"));
    }

    [Test]
    public void MissingCifar10PointsToTheDownloadCommand()
    {
        using var empty = new TempDirectory();
        var e = Assert.Throws<DirectoryNotFoundException>(() => DatasetLoader.Load(new DataOptions(DataSource.Cifar10, empty.Path), 10, ScalarType.Float32, CPU));
        Assert.That(e!.Message, Does.Contain("gpuntk data cifar10").And.Contain("--data synthetic"));
    }
}
