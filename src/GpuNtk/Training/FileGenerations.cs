using System.Runtime.InteropServices;

namespace GpuNtk.Training;

/// <summary>
/// Keeps the file being replaced as its previous generation, atomically: the previous file is hard-linked (or, where
/// links are not available, copied and flushed) to a temporary name and renamed over <c>previous</c>, so at every moment
/// both the current and the previous generation exist complete on disk.
/// </summary>
internal static partial class FileGenerations
{
    public static void KeepAs(string current, string previous)
    {
        var temp = CheckpointFile.TemporaryPath(previous, Environment.ProcessId);
        File.Delete(temp);
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) || Link(current, temp) != 0)
        {
            using (var source = new FileStream(current, FileMode.Open, FileAccess.Read, FileShare.Read))
            using (var copy = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                source.CopyTo(copy);
                copy.Flush(flushToDisk: true);
            }
        }
        File.Move(temp, previous, overwrite: true);
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);
}
