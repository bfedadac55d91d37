using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Cli;

/// <summary>Bad inputs to the kernel commands fail with the file, the row and the remedy, and write nothing.</summary>
public sealed class KernelInputCliTests
{
    [OneTimeSetUp]
    public void RequireCli() => GpuNtkProcess.RequireBuilt();

    [Test]
    public void NonFiniteInputsAreRefusedUnlessAllowed()
    {
        using var dir = new TempDirectory();
        using var x = randn(4, 8, ScalarType.Float64, generator: new Generator(1));
        x[2, 3] = tensor(double.PositiveInfinity);
        NpyFile.Write(dir["x.npy"], x);
        var refused = GpuNtkProcess.Run(dir.Path, "ntk", "--arch", "fcn:depth=1,width=8,in=8,out=1", "--inputs", "x.npy", "--out", "k.npy");
        Assert.That(refused.ExitCode, Is.Not.EqualTo(0), refused.ToString());
        Assert.That(refused.Err, Does.Contain("x.npy").And.Contain("row 2").And.Contain("--allow-nonfinite"));
        Assert.That(File.Exists(dir["k.npy"]), Is.False);
        var analytic = GpuNtkProcess.Run(dir.Path, "kernel", "--analytic", "--arch", "fcn:depth=1,in=8", "--inputs", "x.npy", "--out", "a.npy");
        Assert.That(analytic.Err, Does.Contain("NaN/Inf"), analytic.ToString());
        var allowed = GpuNtkProcess.Run(dir.Path, "ntk", "--arch", "fcn:depth=1,width=8,in=8,out=1", "--inputs", "x.npy", "--allow-nonfinite", "--out", "k.npy");
        Assert.That(allowed.ExitCode, Is.EqualTo(0), allowed.ToString());
    }
}
