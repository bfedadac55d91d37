using GpuNtk.Experiments.Linearization;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Experiments;

public sealed class LinearizationSweepTests
{
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
    public void PowerIterationFindsTheTopEigenvalueOfTheNtk()
    {
        using var net = NetworkFactory.Create("fcn:depth=1,width=32,act=relu,in=6,out=2", 1, ScalarType.Float64);
        using var data = SyntheticTwoClassData.Generate(10, 2, 1, 3, 0, ScalarType.Float64, CPU);
        var x = data.TrainInputs[.., ..6].contiguous();
        var theta = EmpiricalNtk.Compute(net, x).permute(0, 2, 1, 3).reshape(20, 20);
        double exact = linalg.eigvalsh(theta)[-1].item<double>();
        Assert.That(LinearizationSweep.TopNtkEigenvalue(net, x, 60, 0), Is.EqualTo(exact).Within(1e-6).Percent);
    }

    [Test]
    public void ASmallSweepRecordsEveryWidthAndTimeAndWritesCsv()
    {
        using var data = SyntheticTwoClassData.Generate(24, 12, 1, 4, 0, ScalarType.Float64, CPU);
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
}
