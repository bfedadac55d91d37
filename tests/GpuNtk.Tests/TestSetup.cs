using GpuNtk.Native;
using NUnit.Framework;

namespace GpuNtk.Tests;

/// <summary>Loads libtorch once for the whole test assembly (patching the shim copy in bin/ where the host needs it).</summary>
[SetUpFixture]
public sealed class TestSetup
{
    [OneTimeSetUp]
    public void LoadNative()
    {
        TorchNative.EnsureLoaded();
        TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
    }
}
