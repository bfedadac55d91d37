using GpuNtk.Native;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Native;

public sealed class HostAllocatorTests
{
    /// <summary>AnonHugePages of this process in KiB (/proc/self/smaps_rollup), or null where the kernel has no such file.</summary>
    private static long? AnonHugePagesKb()
    {
        const string path = "/proc/self/smaps_rollup";
        if (!File.Exists(path)) return null;
        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("AnonHugePages:", StringComparison.Ordinal));
        return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [Test]
    public void LibTorchBacksLargeTensorsWithHugePagesUnlessTheUserSaidOtherwise()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("transparent huge pages are a Linux feature");
        string? external = Environment.GetEnvironmentVariable(HostAllocator.HugePagesVariable);
        if (external is not null && external != "1") Assert.Ignore($"{HostAllocator.HugePagesVariable}={external} was set by the user: kept");
        // Set by the module initializer before libtorch loaded; calling again reports the C environment's value.
        Assert.That(HostAllocator.TuneForLargeTensors(), Is.True);

        // The effect, where the kernel grants huge pages (reported, not asserted: fragmentation can refuse them).
        long? before = AnonHugePagesKb();
        using var big = ones(16L << 20); // 64 MiB
        long? after = AnonHugePagesKb();
        TestContext.Progress.WriteLine($"AnonHugePages {before} → {after} KiB after a 64 MiB tensor " +
                                       $"(THP: {(File.Exists("/sys/kernel/mm/transparent_hugepage/enabled") ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled").Trim() : "n/a")})");
    }
}
