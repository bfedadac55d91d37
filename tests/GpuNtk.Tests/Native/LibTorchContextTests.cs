using GpuNtk.Native;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Native;

/// <summary>The libtorch context switches reached through its C++ exports.</summary>
[NonParallelizable]
public sealed class LibTorchContextTests
{
    [Test]
    public void OneDnnSwitchTogglesAndWithItOffTorchSharpConvolutionGradientsAreRightInFloat32()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("the switches are read through Itanium-ABI exports (Linux/macOS)");
        Assert.That(LibTorchContext.Available, Is.True, "libtorch_cpu exports at::globalContext and setUserEnabledMkldnn");
        bool before = LibTorchContext.OneDnnEnabled;
        try
        {
            LibTorchContext.OneDnnEnabled = false;
            Assert.That(LibTorchContext.OneDnnEnabled, Is.False);
            // A TorchSharp nn.Conv2d whose channel counts do not fill oneDNN's blocks (the shapes that are wrong with it on).
            foreach (var (cin, cout) in new[] { (3L, 5L), (20L, 7L) })
            {
                using var scope = NewDisposeScope();
                var conv = nn.Conv2d(cin, cout, 3, padding: 1);
                var conv64 = nn.Conv2d(cin, cout, 3, padding: 1, dtype: ScalarType.Float64);
                using (no_grad())
                {
                    conv64.weight!.copy_(conv.weight!);
                    conv64.bias!.copy_(conv.bias!);
                }
                var x = randn(4, cin, 9, 7, generator: new Generator(3));
                var g = randn(4, cout, 9, 7, generator: new Generator(4));
                var x32 = x.clone().requires_grad_(true);
                var x64 = x.to(ScalarType.Float64).requires_grad_(true);
                var gx32 = autograd.grad([conv.call(x32)], [x32], [g])[0];
                var gx64 = autograd.grad([conv64.call(x64)], [x64], [g.to(ScalarType.Float64)])[0];
                double error = ((gx32.to(ScalarType.Float64) - gx64).norm() / gx64.norm()).item<double>();
                Assert.That(error, Is.LessThan(1e-5), $"C_in {cin} → C_out {cout}");
            }
        }
        finally
        {
            LibTorchContext.OneDnnEnabled = before;
        }
        Assert.That(LibTorchContext.OneDnnEnabled, Is.EqualTo(before));
    }
}
