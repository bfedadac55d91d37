using GpuNtk.Data;
using GpuNtk.Experiments;
using GpuNtk.Experiments.Linearization;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using GpuNtk.Tests.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Experiments;

public sealed class LinearizationSweepTests
{
    private SyntheticDataRoot _dir = null!;

    [OneTimeSetUp]
    public void WriteData() => _dir = new SyntheticDataRoot(new SyntheticCifar10Options(TrainRecordsPerFile: 30, TestRecords: 60, Seed: 3));

    [OneTimeTearDown]
    public void Cleanup() => _dir.Dispose();

    private DataOptions TwoClasses(int train, int test) => new(DataSource.Synthetic, _dir.Path, [7, 2], train, test, Seed: 1);

    [Test]
    public void LogLogFitRecoversAPowerLaw()
    {
        double[] x = [16, 64, 256, 1024];
        var fit = LogLogFit.Fit(x, x.Select(w => 3.0 * Math.Pow(w, -0.5)).ToArray())!;
        Assert.That(fit.Slope, Is.EqualTo(-0.5).Within(1e-12));
        Assert.That(fit.RSquared, Is.EqualTo(1).Within(1e-12));
        Assert.That(fit.At(100), Is.EqualTo(0.3).Within(1e-12));
        Assert.That(LogLogFit.Fit([1, 2], [0, -1]), Is.Null, "non-positive values cannot be fitted on log axes");
    }

    [Test]
    public void ASmallSweepRecordsEveryWidthAndTimeAndWritesCsv()
    {
        using var data = SweepData.Load(TwoClasses(24, 12), 4, ScalarType.Float64, CPU);
        var config = new LinearizationSweepConfig { Widths = [16, 64], Depth = 1, Steps = 6, EvalEvery = 3, ProbeSize = 6, PowerIterations = 10 };
        var result = LinearizationSweep.Run(config, data, ScalarType.Float64, CPU);
        Assert.That(result.Records.Select(r => (r.Width, r.Step)), Is.EqualTo(new (long, int)[] { (16, 0), (16, 3), (16, 6), (64, 0), (64, 3), (64, 6) }));
        var start = result.Records.Where(r => r.Step == 0).ToArray();
        Assert.That(start.All(r => r.OutputGapTest == 0 && r.KernelChange == 0 && r.ParameterChange == 0), "at t = 0 the network is its linearization");
        var end = result.Records.Where(r => r.Step == 6).ToArray();
        Assert.That(end.All(r => r.TrainLoss < result.Records.First(s => s.Width == r.Width && s.Step == 0).TrainLoss), "both widths train");
        Assert.That(end.All(r => r.OutputGapTest > 0 && r.KernelChange > 0 && r.ParameterChange > 0));
        Assert.That(result.MaxLearningRate, Is.GreaterThan(0));
        Assert.That(result.LearningRate, Is.EqualTo(0.5 * result.MaxLearningRate!.Value).Within(1e-12));
        var csv = new StringWriter();
        result.WriteCsv(csv);
        var lines = csv.ToString().Trim().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(7));
        Assert.That(lines[0], Does.StartWith("width,seed,step,time,"));
        Assert.That(result.Summary(), Does.Contain("log-log slope"));
    }

    [Test]
    public void SweepDataIsTwoClassesOfTheCifarFormatSetPooledFlattenedAndNormalised()
    {
        var options = TwoClasses(20, 10);
        using var data = SweepData.Load(options, 8, ScalarType.Float64, CPU);
        Assert.That(data.TrainInputs.shape, Is.EqualTo(new long[] { 20, 192 }));
        Assert.That(data.TestInputs.shape, Is.EqualTo(new long[] { 10, 192 }));
        Assert.That(data.Outputs, Is.EqualTo(1));
        using var norms = data.TrainInputs.square().sum(1).sqrt();
        Assert.That((norms - Math.Sqrt(192)).abs().max().item<double>(), Is.LessThan(1e-10), "every input has ‖x‖ = √d");
        Assert.That(data.Description, Does.Contain("synthetic").And.Contain("average-pooled to 3×8×8"));

        // Independently: the loader's standardised images of the same draw, labels 7 → −1 and 2 → +1, pooled 4×4 by hand.
        using var loaded = DatasetLoader.Load(options with { Flatten = false }, 2, ScalarType.Float64, CPU);
        using var pooled = loaded.Train.Inputs.reshape(20, 3, 8, 4, 8, 4).mean([3L, 5L]).reshape(20, -1);
        using var expected = pooled / pooled.square().sum(1, keepdim: true).sqrt() * Math.Sqrt(192);
        Assert.That((data.TrainInputs - expected).abs().max().item<double>(), Is.LessThan(1e-12));
        using var signs = loaded.Train.Labels.to(ScalarType.Float64).mul(2).sub(1).unsqueeze(1);
        Assert.That(data.TrainTargets.eq(signs).all().item<bool>(), "class 7 (listed first) is −1, class 2 is +1");
        Assert.That(data.TrainTargets.abs().eq(1).all().item<bool>());
        using var raw = Cifar10Reader.ReadTrain(options.Directory);
        Assert.That(raw.Labels.eq(7).sum().item<long>() + raw.Labels.eq(2).sum().item<long>(), Is.GreaterThanOrEqualTo(20));
    }

    [Test]
    public void SweepDataRejectsOtherThanTwoClassesAndImageSizesThatDoNotDivide32()
    {
        Assert.That(() => SweepData.Load(TwoClasses(8, 4) with { Classes = [1, 2, 3] }, 8, ScalarType.Float32, CPU),
            Throws.ArgumentException.With.Message.Contains("two-class"));
        Assert.That(() => SweepData.Load(TwoClasses(8, 4) with { Classes = null }, 8, ScalarType.Float32, CPU),
            Throws.ArgumentException.With.Message.Contains("all ten classes"));
        Assert.That(() => SweepData.Load(TwoClasses(8, 4), 12, ScalarType.Float32, CPU),
            Throws.ArgumentException.With.Message.Contains("--image-size 12"));
    }

    [Test]
    public void AutoDataIsCifarWhenItsFolderExistsElseSynthetic()
    {
        Assert.That(DataSourceChoice.Resolve("auto", _dir.Path), Is.EqualTo(DataSource.Synthetic));
        using var withCifar = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(withCifar.Path, Cifar10Format.DirectoryName));
        Assert.That(DataSourceChoice.Resolve("auto", withCifar.Path), Is.EqualTo(DataSource.Cifar10));
        Assert.That(DataSourceChoice.Resolve("synthetic", withCifar.Path), Is.EqualTo(DataSource.Synthetic));
        Assert.That(() => DataSourceChoice.Resolve("imagenet", _dir.Path), Throws.ArgumentException.With.Message.Contains("use cifar10, synthetic"));
    }
}
