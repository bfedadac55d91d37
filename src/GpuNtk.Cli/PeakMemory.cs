using System.Globalization;

namespace GpuNtk.Cli;

/// <summary>The process's peak resident memory so far, for the JSON line of commands whose memory the user sizes.</summary>
internal static class PeakMemory
{
    /// <summary>VmHWM from /proc/self/status in MiB (Linux); null where there is none.</summary>
    public static double? ResidentMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return Math.Round(long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0, 1);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
