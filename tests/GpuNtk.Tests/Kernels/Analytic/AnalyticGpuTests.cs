using GpuNtk.Kernels.Analytic;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Analytic;

/// <summary>Analytic kernels on a CUDA device equal the CPU ones; skipped where no CUDA device is usable.</summary>
[Category("GPU")]
public sealed class AnalyticGpuTests
{
    [SetUp]
    public void RequireCuda()
    {
        if (!cuda.is_available())
            Assert.Ignore("GPU test: no CUDA device is usable here (build with -p:TorchBackend=cuda or set GPUNTK_LIBTORCH on a CUDA machine)");
    }

    [TestCase("fcn:depth=3,act=relu,in=12")]
    [TestCase("fcn:depth=2,act=gelu,in=12")]
    [TestCase("fcn:depth=2,act=tanh,in=12")]
    [TestCase("cnn:depth=1,act=erf,in=2,size=8")]
    [TestCase("wrn:depth=10,k=2,in=1,size=8")]
    public void GpuMatchesCpu(string spec)
    {
        var kernel = AnalyticKernel.FromSpec(spec);
        using var x = randn(9, GpuNtk.Networks.ArchitectureSpec.Parse(spec).InputSize, ScalarType.Float64);
        using var cpu = kernel.Compute(x, null, new AnalyticKernelOptions(BlockSize: 4));
        using var gpu = kernel.Compute(x.cuda(), null, new AnalyticKernelOptions(BlockSize: 4));
        Assert.That(gpu.Ntk!.device_type, Is.EqualTo(TorchSharp.DeviceType.CUDA));
        Assert.That(gpu.Ntk!.cpu().allclose(cpu.Ntk!, rtol: 1e-10, atol: 1e-10), "NTK");
        Assert.That(gpu.Nngp!.cpu().allclose(cpu.Nngp!, rtol: 1e-10, atol: 1e-10), "NNGP");
    }

    [Test]
    public void TenThousandSquaredFcnNtkInFloat32()
    {
        using var x = randn(10_000, 3072, ScalarType.Float32, device: CUDA);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var ntk = AnalyticKernel.FromSpec("fcn:depth=2,act=relu,in=3072").Ntk(x);
        cuda.synchronize();
        TestContext.Out.WriteLine($"10,000² FCN NTK on {x.device}: {watch.Elapsed.TotalSeconds:F2} s");
        Assert.That(ntk.isfinite().all().item<bool>());
    }
}
