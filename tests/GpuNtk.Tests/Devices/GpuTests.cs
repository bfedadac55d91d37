using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Devices;

/// <summary>Run only where a CUDA device is usable; elsewhere they are skipped with the reason.</summary>
[Category("GPU")]
public sealed class GpuTests
{
    [SetUp]
    public void RequireCuda()
    {
        if (!cuda.is_available())
            Assert.Ignore("GPU test: no CUDA device is usable here (build with -p:TorchBackend=cuda or set GPUNTK_LIBTORCH on a CUDA machine)");
    }

    [TestCase("fcn:depth=2,width=64,in=12,out=3")]
    [TestCase("cnn:depth=1,channels=8,size=8,out=3")]
    [TestCase("wrn:depth=10,size=8,out=3")]
    public void SameSeedGivesTheSameNetworkAndOutputsOnGpu(string spec)
    {
        using var cpuNet = NetworkFactory.Create(spec, 3, ScalarType.Float64);
        using var gpuNet = NetworkFactory.Create(spec, 3, ScalarType.Float64, CUDA);
        Assert.That(gpuNet.Device.type, Is.EqualTo(TorchSharp.DeviceType.CUDA));
        using var x = randn(5, cpuNet.Spec.InputSize, ScalarType.Float64);
        using var yCpu = cpuNet.forward(x);
        using var yGpu = gpuNet.forward(x.cuda()).cpu();
        Assert.That(yGpu.allclose(yCpu, rtol: 1e-10, atol: 1e-10));
    }

    [Test]
    public void EmpiricalNtkOnGpuMatchesCpu()
    {
        const string spec = "fcn:depth=2,width=32,in=6,out=2";
        using var cpuNet = NetworkFactory.Create(spec, 1, ScalarType.Float64);
        using var gpuNet = NetworkFactory.Create(spec, 1, ScalarType.Float64, CUDA);
        using var x = randn(7, 6, ScalarType.Float64);
        using var kCpu = EmpiricalNtk.Compute(cpuNet, x);
        using var kGpu = EmpiricalNtk.Compute(gpuNet, x.cuda());
        Assert.That(kGpu.device_type, Is.EqualTo(TorchSharp.DeviceType.CUDA), "results stay on the device");
        Assert.That(kGpu.cpu().allclose(kCpu, rtol: 1e-9, atol: 1e-9));
    }
}
