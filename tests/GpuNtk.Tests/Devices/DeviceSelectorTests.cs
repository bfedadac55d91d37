using GpuNtk.Devices;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Devices;

public sealed class DeviceSelectorTests
{
    [Test]
    public void CpuAndAutoResolve()
    {
        Assert.That(DeviceSelector.Parse("cpu").type, Is.EqualTo(DeviceType.CPU));
        var auto = DeviceSelector.Parse(" AUTO ");
        Assert.That(auto.type, Is.EqualTo(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU));
    }

    [TestCase("gpu")]
    [TestCase("cuda:-1")]
    [TestCase("cuda:x")]
    public void BadNamesAreRejected(string name) => Assert.Throws<ArgumentException>(() => DeviceSelector.Parse(name));

    [Test]
    public void CudaWithoutAGpuSaysHowToGetOne()
    {
        if (cuda.is_available()) Assert.Ignore("a CUDA device is present");
        var e = Assert.Throws<ArgumentException>(() => DeviceSelector.Parse("cuda"));
        Assert.That(e!.Message, Does.Contain("TorchBackend=cuda").And.Contain("GPUNTK_LIBTORCH"));
    }

    [Test]
    public void AllComputeDevicesIsNeverEmpty() => Assert.That(DeviceSelector.AllComputeDevices(), Is.Not.Empty);
}
