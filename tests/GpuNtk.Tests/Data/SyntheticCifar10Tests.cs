using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

public sealed class SyntheticCifar10Tests
{
    [Test]
    public void WritesTheExactBinaryFormatWithBalancedLabels()
    {
        using var dir = new TempDirectory();
        SyntheticCifar10.Write(dir.Path, new SyntheticCifar10Options(TrainRecordsPerFile: 30, TestRecords: 20, Seed: 3));
        foreach (var name in Cifar10Format.TrainFiles)
            Assert.That(new FileInfo(dir[name]).Length, Is.EqualTo(30 * 3073), name);
        Assert.That(new FileInfo(dir[Cifar10Format.TestFile]).Length, Is.EqualTo(20 * 3073));
        using var train = Cifar10Reader.ReadTrain(dir.Path, recordsPerFile: 30);
        using var counts = bincount(train.Labels, minlength: 10);
        Assert.That(counts.data<long>().ToArray(), Is.All.EqualTo(15), "balanced classes");
        // Not constant images: the pixels use most of the byte range.
        Assert.That(train.Pixels.to(ScalarType.Float64).std().item<double>(), Is.GreaterThan(20));
    }

    [Test]
    public void SameSeedSameBytesOtherSeedOtherBytes()
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();
        using var c = new TempDirectory();
        var options = new SyntheticCifar10Options(TrainRecordsPerFile: 10, TestRecords: 10, Seed: 5);
        SyntheticCifar10.Write(a.Path, options);
        SyntheticCifar10.Write(b.Path, options);
        SyntheticCifar10.Write(c.Path, options with { Seed = 6 });
        var name = Cifar10Format.TrainFiles[3];
        Assert.That(File.ReadAllBytes(a[name]), Is.EqualTo(File.ReadAllBytes(b[name])));
        Assert.That(File.ReadAllBytes(a[name]), Is.Not.EqualTo(File.ReadAllBytes(c[name])));
    }

    [Test]
    public void ClassesDifferInTheirMeanImage()
    {
        // The structure is class-dependent: class means are far apart relative to the noise of a mean over 60 images.
        using var dir = new TempDirectory();
        SyntheticCifar10.Write(dir.Path, new SyntheticCifar10Options(TrainRecordsPerFile: 120, TestRecords: 10, Seed: 1, MaxShift: 0));
        using var train = Cifar10Reader.ReadTrain(dir.Path);
        using var x = train.Pixels.to(ScalarType.Float64).reshape(train.Count, -1);
        using var m0 = x.index_select(0, nonzero(train.Labels.eq(0)).view(-1)).mean([0L]);
        using var m1 = x.index_select(0, nonzero(train.Labels.eq(1)).view(-1)).mean([0L]);
        double rmsDifference = (m0 - m1).square().mean().sqrt().item<double>();
        Assert.That(rmsDifference, Is.GreaterThan(15), "class templates differ by ~√2·20 levels RMS");
    }
}
