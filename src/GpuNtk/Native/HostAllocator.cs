using System.Runtime.InteropServices;

namespace GpuNtk.Native;

/// <summary>
/// Host memory policy for large tensors: the process-wide start (<see cref="TuneForLargeTensors"/>: huge pages, fixed
/// malloc thresholds) and, for a kernel written tile by tile, <see cref="ReturnLargeBlocksToTheSystem"/>, which keeps
/// glibc's malloc from holding on to freed tile-sized blocks. By default glibc raises its mmap threshold to the
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

    private const int TrimThresholdParameter = -1; // M_TRIM_THRESHOLD

    /// <summary>Blocks below this come from malloc's heap and are reused (<see cref="TuneForLargeTensors"/>).</summary>
    public const int HeapBlockLimit = 32 << 20;

    /// <summary>Free memory at the top of the heap that malloc keeps instead of returning it (<see cref="TuneForLargeTensors"/>).</summary>
    public const int KeptHeapTop = 128 << 20;

    /// <summary>
    /// The process-wide host memory policy GpuNtk starts with (its module initializer calls this before libtorch loads):
    /// libtorch backs CPU tensors of 2 MiB or more with transparent huge pages (<c>THP_MEM_ALLOC_ENABLE=1</c>: 2 MiB-aligned
    /// blocks with <c>madvise(MADV_HUGEPAGE)</c>), and glibc's malloc serves blocks below <see cref="HeapBlockLimit"/>
    /// from its heap and keeps up to <see cref="KeptHeapTop"/> of free heap top, where glibc's default would move both
    /// thresholds as blocks are freed. Why both: every fresh 4 KiB page costs a page fault, and NTK blocks, activations
    /// and per-example gradients are large and allocated anew each call; huge pages alone, under glibc's moving
    /// thresholds, made some workloads slower (2 MiB-aligned blocks carved from the heap), fixed thresholds alone fault
    /// as before. Measured together in <c>bench/README.md</c> ("Host memory"). A variable the user already set
    /// (<c>THP_MEM_ALLOC_ENABLE=0</c>, or glibc's own <c>GLIBC_TUNABLES</c> malloc thresholds) is kept. Returns whether
    /// huge pages are on; false off Linux and off glibc (nothing changes there).
    /// </summary>
    public static bool TuneForLargeTensors()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            string? tunables = Marshal.PtrToStringUTF8(getenv("GLIBC_TUNABLES"));
            if (tunables is null || !tunables.Contains("glibc.malloc.", StringComparison.Ordinal))
            {
                mallopt(MmapThresholdParameter, HeapBlockLimit);
                mallopt(TrimThresholdParameter, KeptHeapTop);
            }
            // libtorch reads the variable once, at its first CPU allocation, from the C environment (which
            // Environment.SetEnvironmentVariable does not change on Unix).
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
