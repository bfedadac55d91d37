using System.Runtime.InteropServices;

namespace GpuNtk.Native;

/// <summary>
/// Host memory policy for large tensors: transparent huge pages (<see cref="UseHugePagesForLargeTensors"/>, on by
/// default) and an mmap threshold (<see cref="ReturnLargeBlocksToTheSystem"/>). The latter keeps glibc's malloc from holding on to freed tile-sized blocks. By default glibc raises its mmap threshold to the
/// size of each freed mmapped block (up to 32 MiB), after which same-sized tensors come from the heap, whose freed
/// memory is rarely returned: a kernel written tile by tile then grows by about one tile of resident memory per tile
/// (measured: 1 MB tiles, 136 tiles, +173 MiB peak). A fixed threshold sends every block of at least that size
/// straight to mmap and back to the system on free, so memory stays at one tile's working set.
/// </summary>
public static partial class HostAllocator
{
    private const int MmapThresholdParameter = -3; // M_MMAP_THRESHOLD in <malloc.h>

    /// <summary>
    /// Serves host allocations of <paramref name="bytes"/> or more by mmap from now on (process-wide, like the
    /// thread count). Returns false where this is not glibc (nothing changes there).
    /// </summary>
    public static bool ReturnLargeBlocksToTheSystem(int bytes = 256 << 10)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(MmapThresholdParameter, bytes) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false; // musl or another C library without mallopt
        }
    }

    /// <summary>The libtorch variable that backs its CPU tensors of 2 MiB or more with transparent huge pages.</summary>
    public const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>
    /// Asks libtorch to back CPU tensors of 2 MiB or more with transparent huge pages (<c>THP_MEM_ALLOC_ENABLE=1</c>:
    /// 2 MiB-aligned blocks with <c>madvise(MADV_HUGEPAGE)</c>), unless the variable is already set (0 turns it off).
    /// Every fresh 4 KiB page of a large tensor otherwise costs a page fault, and kernel blocks, activations and
    /// per-example gradients are large and freshly allocated each call: on a VM the faults were a large share of
    /// the time of a big NTK block (measured in <c>bench/README.md</c>). libtorch reads the variable once, at its first CPU
    /// allocation, from the C environment (which <c>Environment.SetEnvironmentVariable</c> does not change on Unix), so
    /// this runs before TorchSharp loads. Returns whether the variable is now 1; false off Linux (no THP there).
    /// </summary>
    public static bool UseHugePagesForLargeTensors()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            if (setenv(HugePagesVariable, "1", overwrite: 0) != 0) return false;
            return Marshal.PtrToStringUTF8(getenv(HugePagesVariable)) == "1";
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getenv(string name);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
