using GpuNtk.Native;
using GpuNtk.Networks;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Networks;

[NonParallelizable]
public sealed class CpuConvolutionSafetyTests
{
    [Test]
    public void OneDnnGoesOffOnlyForFloat32CpuModulesWithTorchSharpConvolutions()
    {
        if (!LibTorchContext.Available) Assert.Ignore("libtorch's context switches are not reachable on this platform");
        bool before = LibTorchContext.OneDnnEnabled;
        try
        {
            LibTorchContext.OneDnnEnabled = true;
            using var ours = NetworkFactory.Create("cnn:depth=1,channels=4,size=8,out=3", 0, ScalarType.Float32, CPU);
            Assert.That(CpuConvolutionSafety.Ensure(ours, NullLogger.Instance), Is.False, "GpuNtk's Conv2dLayer is safe by itself");
            using var theirs64 = nn.Sequential(("conv", nn.Conv2d(3, 5, 3, dtype: ScalarType.Float64)));
            Assert.That(CpuConvolutionSafety.Ensure(theirs64, NullLogger.Instance), Is.False, "float64 does not use oneDNN");
            using var dense = nn.Sequential(("fc", nn.Linear(4, 2)));
            Assert.That(CpuConvolutionSafety.Ensure(dense, NullLogger.Instance), Is.False);
            Assert.That(LibTorchContext.OneDnnEnabled, Is.True);
            using var theirs = nn.Sequential(("conv", nn.Conv2d(3, 5, 3)), ("act", nn.ReLU()));
            Assert.That(CpuConvolutionSafety.Ensure(theirs, NullLogger.Instance), Is.True);
            Assert.That(LibTorchContext.OneDnnEnabled, Is.False);
        }
        finally
        {
            LibTorchContext.OneDnnEnabled = before;
        }
    }
}
