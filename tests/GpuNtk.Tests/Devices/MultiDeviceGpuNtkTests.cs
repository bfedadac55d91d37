using GpuNtk.Devices;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Devices;

/// <summary>
/// NTK blocks spread over CUDA devices: every visible one when there are several, else cuda:0 twice (two workers,
/// two threads on one GPU). Skipped with the reason where no CUDA device is usable.
/// </summary>
[Category("GPU")]
public sealed class MultiDeviceGpuNtkTests
{
    [SetUp]
    public void RequireCuda()
    {
        if (!cuda.is_available())
            Assert.Ignore("GPU test: no CUDA device is usable here (build with -p:TorchBackend=cuda or set GPUNTK_LIBTORCH on a CUDA machine)");
    }

    private static IReadOnlyList<Device> Workers() =>
        cuda.device_count() >= 2 ? DeviceSelector.AllComputeDevices() : DeviceSelector.ParseList("cuda:0,cuda:0");

    [TestCase(NtkOutput.Full, false)]
    [TestCase(NtkOutput.Trace, false)]
    [TestCase(NtkOutput.Trace, true)]
    [TestCase(NtkOutput.DiagonalFull, false)]
    public void SpreadOverCudaDevicesMatchesOneDevice(NtkOutput output, bool cross)
    {
        const string spec = "cnn:depth=1,channels=8,size=8,out=3";
        using var net = NetworkFactory.Create(spec, 2, ScalarType.Float64, device(TorchSharp.DeviceType.CUDA, 0));
        using var g = new Generator(11);
        using var x1 = randn([9, net.Spec.InputSize], ScalarType.Float64, CPU, generator: g).to(net.Device);
        using var x2 = cross ? randn([6, net.Spec.InputSize], ScalarType.Float64, CPU, generator: g).to(net.Device) : null;
        var options = new NtkOptions(output, BlockSize: 2);
        using var one = EmpiricalNtk.Compute(net, x1, x2, options);
        using var many = EmpiricalNtk.Compute(net, x1, x2, options with { Devices = Workers() });
        Assert.That(many.device.type, Is.EqualTo(TorchSharp.DeviceType.CUDA), "assembled on the model's device");
        using var diff = (many - one).abs().max().cpu();
        using var scale = one.abs().max().cpu();
        Assert.That(diff.item<double>() / scale.item<double>(), Is.LessThan(1e-12), $"workers: {string.Join(", ", Workers())}");

        using var onHost = EmpiricalNtk.Compute(net, x1, x2, options with { Devices = Workers(), AssembleOnHost = true });
        Assert.That(onHost.device.type, Is.EqualTo(TorchSharp.DeviceType.CPU));
        Assert.That(onHost.allclose(one.cpu(), rtol: 1e-12, atol: 1e-12));
    }

    [Test]
    public void ACpuModelSpreadOverCudaDevicesMatchesTheCpu()
    {
        using var net = NetworkFactory.Create("fcn:depth=2,width=64,in=12,out=3", 4, ScalarType.Float64);
        using var g = new Generator(12);
        using var x = randn([11, 12], ScalarType.Float64, CPU, generator: g);
        var options = new NtkOptions(NtkOutput.Full, BlockSize: 3);
        using var one = EmpiricalNtk.Compute(net, x, null, options);
        using var many = EmpiricalNtk.Compute(net, x, null, options with { Devices = Workers() });
        Assert.That(many.device.type, Is.EqualTo(TorchSharp.DeviceType.CPU), "Θ stays on the model's device; only replicas run on CUDA");
        Assert.That(many.allclose(one, rtol: 1e-11, atol: 1e-11));
    }
}
