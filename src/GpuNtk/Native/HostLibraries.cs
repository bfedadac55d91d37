using System.Runtime.InteropServices;

namespace GpuNtk.Native;

/// <summary>Finds the host's shared libraries (the ones the dynamic loader would use) and the versions they define.</summary>
public static class HostLibraries
{
    private static readonly string[] s_libDirs =
    [
        "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
        "/usr/lib64", "/lib64", "/usr/lib", "/lib",
    ];

    /// <summary>
    /// Path of the library named <paramref name="soname"/> already mapped into this process (the .NET runtime
    /// itself links libstdc++), else the first match in the standard library folders; null when none is found.
    /// </summary>
    public static string? Locate(string soname)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                string path = line[slash..].Trim();
                if (Path.GetFileName(path) == soname || Path.GetFileName(path).StartsWith(soname + ".", StringComparison.Ordinal))
                    return path;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return s_libDirs.Select(d => Path.Combine(d, soname)).FirstOrDefault(File.Exists);
    }

    /// <summary>The version names a host library defines, e.g. GLIBCXX_3.4.30; empty when it cannot be read.</summary>
    public static IReadOnlySet<string> DefinedVersions(string soname)
    {
        var path = Locate(soname);
        if (path is null) return new HashSet<string>();
        try
        {
            return ElfImage.Parse(File.ReadAllBytes(path)).VersionDefinitions().ToHashSet();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
        {
            return new HashSet<string>();
        }
    }
}
