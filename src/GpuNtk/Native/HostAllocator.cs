using System.Runtime.InteropServices;

namespace GpuNtk.Native;

/// <summary>
/// Keeps glibc's malloc from holding on to freed tile-sized blocks. By default glibc raises its mmap threshold to the
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

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
