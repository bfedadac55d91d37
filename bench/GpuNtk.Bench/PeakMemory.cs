using System.Runtime.InteropServices;

namespace GpuNtk.Bench;

/// <summary>
/// Peak resident memory of a run, as the rise of the process's high-water mark (Linux: /proc/self/status VmHWM,
/// reset by writing 5 to /proc/self/clear_refs) over the resident size just before it, after returning freed heap
/// pages to the OS (malloc_trim) so reuse of already-resident memory does not hide allocations.
/// </summary>
internal static partial class PeakMemory
{
    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    public static bool Available => OperatingSystem.IsLinux() && File.Exists("/proc/self/clear_refs");

    /// <summary>Runs <paramref name="action"/> and returns the rise of peak RSS in bytes, or null where unsupported.</summary>
    public static long? Measure(Action action)
    {
        if (!Available)
        {
            action();
            return null;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        try { MallocTrim(0); } catch (EntryPointNotFoundException) { }
        long before = Read("VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5");
        action();
        long peak = Read("VmHWM");
        return Math.Max(0, peak - before);
    }

    private static long Read(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {key}");
    }
}
