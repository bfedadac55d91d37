using System.Runtime.InteropServices;

namespace GpuNtk.Bench;

/// <summary>
/// libgomp (libtorch's OpenMP) spins while a parallel region waits for its threads. When other processes compete for
/// the cores, a spinning thread burns the slice its partner needs, and each of the many small parallel ops of an NTK
/// computation can stall for a scheduler time slice (bench/README.md has the measured swing). OMP_WAIT_POLICY=PASSIVE (threads sleep instead) removes that. It must be in the native
/// environment before libtorch loads (.NET's Environment.SetEnvironmentVariable does not reach getenv on Unix).
/// The benchmark sets the same policy for itself and for the Python peer.
/// </summary>
internal static partial class OpenMpPolicy
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>Sets OMP_WAIT_POLICY (unless the caller's environment already has it) and returns the policy in force.</summary>
    public static string Apply(string policy)
    {
        var existing = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(existing)) return existing;
        Environment.SetEnvironmentVariable(Variable, policy);
        if (!OperatingSystem.IsWindows()) SetEnv(Variable, policy, 1);
        return policy;
    }
}
