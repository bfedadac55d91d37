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
        var temp = TrainingCheckpointFile.TemporaryPath(previous, Environment.ProcessId);
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

    /// <summary>
    /// Flushes a folder's entries (the renames done in it) to disk, where the OS allows opening a folder (Linux, macOS):
    /// without it a power loss after the rename can bring back the old name.
    /// </summary>
    public static void SyncFolder(string folder)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        int fd = Open(folder, 0 /* O_RDONLY */);
        if (fd < 0) return; // best effort: the data itself was flushed before the rename
        FSync(fd);
        Close(fd);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);
}
