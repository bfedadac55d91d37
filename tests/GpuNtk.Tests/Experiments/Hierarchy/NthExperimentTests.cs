using GpuNtk.Data;
using GpuNtk.Experiments.Hierarchy;
using GpuNtk.Tests.Data;
using NUnit.Framework;

namespace GpuNtk.Tests.Experiments.Hierarchy;

public sealed class NthExperimentTests
{
    [Test]
    public void SmallSweepRunsAndHigherLevelsAreMoreAccurateEarlyOn()
    {
        var config = new NthExperimentConfig
        {
            Architecture = "fcn:depth=1,act=tanh,in=3", Widths = [16, 64], TrainPoints = 6, TestPoints = 2,
            Duration = 0.5, TimePoints = 3, Seeds = 1,
        };
        var result = new NthExperiment(config).Run();
        Assert.That(result.Observations, Has.Count.EqualTo(2 * 3 * 3));
        Assert.That(result.Summary, Has.Count.EqualTo(2 * 3));
        Assert.That(result.Exponents, Has.Count.EqualTo(3 * 2));
        foreach (long width in config.Widths)
        {
            var byOrder = result.Summary.Where(s => s.Width == width).OrderBy(s => s.Order).ToArray();
            Assert.That(byOrder[1].MaxOutputError, Is.LessThan(byOrder[0].MaxOutputError), $"p = 3 beats p = 2 at width {width}");
            Assert.That(byOrder[2].MaxOutputError, Is.LessThan(byOrder[1].MaxOutputError), $"p = 4 beats p = 3 at width {width}");
        }
        var dir = Path.Combine(Path.GetTempPath(), "gpuntk-nth-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var files = NthCsv.Write(dir, result);
            Assert.That(File.ReadAllLines(files[0]), Has.Length.EqualTo(1 + 18));
            Assert.That(File.ReadAllLines(files[2])[0], Does.StartWith("order,metric,width_exponent"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void TwoOutputsOnTwoImageClassesRunAndHigherLevelsAreMoreAccurateEarlyOn()
    {
        // Two coupled outputs (targets (y, −y)), inputs from the CIFAR-format loader pooled to 2×2 (in = 12): full kernels.
        using var data = new SyntheticDataRoot(new SyntheticCifar10Options(TrainRecordsPerFile: 20, TestRecords: 40, Seed: 3));
        var config = new NthExperimentConfig
        {
            Architecture = "fcn:depth=1,act=tanh", Outputs = 2, ImageSize = 2,
            Images = new DataOptions(DataSource.Synthetic, data.Path, [7, 2]),
            Widths = [16, 48], TrainPoints = 5, TestPoints = 2, Duration = 0.5, TimePoints = 2, Seeds = 1,
        };
        Assert.That(config.SpecFor(16).Inputs, Is.EqualTo(12));
        var result = new NthExperiment(config).Run();
        Assert.That(result.Observations, Has.Count.EqualTo(2 * 2 * 3));
        foreach (long width in config.Widths)
        {
            var byOrder = result.Summary.Where(s => s.Width == width).OrderBy(s => s.Order).ToArray();
            Assert.That(byOrder[0].MaxOutputError, Is.GreaterThan(0));
            Assert.That(byOrder[1].MaxOutputError, Is.LessThan(byOrder[0].MaxOutputError), $"p = 3 beats p = 2 at width {width}");
            Assert.That(byOrder[2].MaxOutputError, Is.LessThan(byOrder[1].MaxOutputError), $"p = 4 beats p = 3 at width {width}");
        }
        Assert.That(() => (config with { Outputs = 3 }).Validate(), Throws.ArgumentException.With.Message.Contains("two-class"));
    }

    [Test]
    public void PowerLawFitRecoversTheExponent()
    {
        double[] x = [10, 20, 40, 80];
        var (exponent, logC, r2) = PowerLawFit.Fit(x, x.Select(v => 3 * Math.Pow(v, -1.5)).ToArray());
        Assert.That(exponent, Is.EqualTo(-1.5).Within(1e-12));
        Assert.That(Math.Exp(logC), Is.EqualTo(3).Within(1e-9));
        Assert.That(r2, Is.EqualTo(1).Within(1e-12));
        Assert.That(double.IsNaN(PowerLawFit.Fit([1.0], [2.0]).Exponent));
    }

    [Test]
    public void ConfigRejectsWhatTheExperimentCannotDo()
    {
        Assert.That(() => new NthExperimentConfig { Architecture = "cnn:depth=1" }.Validate(), Throws.ArgumentException.With.Message.Contains("fcn"));
        Assert.That(() => new NthExperimentConfig { Orders = [5] }.Validate(), Throws.ArgumentException);
        Assert.That(() => new NthExperimentConfig { Architecture = "fcn:in=1" }.Validate(), Throws.ArgumentException.With.Message.Contains("in must be"));
    }
}
