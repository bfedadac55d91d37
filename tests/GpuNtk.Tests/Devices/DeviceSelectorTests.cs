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

    [Test]
    public void DeviceListsParse()
    {
        Assert.That(DeviceSelector.ParseList("cpu,cpu").Select(d => d.type), Is.EqualTo(new[] { DeviceType.CPU, DeviceType.CPU }));
        Assert.That(DeviceSelector.ParseList(" CPU , cpu,cpu ").Count, Is.EqualTo(3));
        Assert.That(DeviceSelector.ParseList("cpu").Count, Is.EqualTo(1));
        Assert.That(DeviceSelector.ParseList("ALL").Select(d => d.ToString()),
            Is.EqualTo(DeviceSelector.AllComputeDevices().Select(d => d.ToString())));
    }

    [TestCase("", "without empty entries")]
    [TestCase("cpu,,cpu", "without empty entries")]
    [TestCase("cpu,", "without empty entries")]
    [TestCase("cpu,gpu", "entry gpu: use auto, cpu, cuda or cuda:<index>")]
    [TestCase("all,cpu", "'all' stands alone")]
    [TestCase("cpu,cuda:x", "entry cuda:x")]
    public void BadDeviceListsSayWhatIsWrong(string text, string message)
    {
        if (text.Contains("cuda") && !cuda.is_available()) message = "no CUDA device is usable";
        var e = Assert.Throws<ArgumentException>(() => DeviceSelector.ParseList(text));
        Assert.That(e!.Message, Does.StartWith("--devices").And.Contain(message));
    }
}
