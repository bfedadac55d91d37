using Microsoft.Extensions.Logging;

namespace GpuNtk.Training;

/// <summary>
/// Removes the <c>.&lt;name&gt;.&lt;pid&gt;.tmp</c> files that killed processes left in a run folder (a checkpoint being
/// written when the process died). Called with the folder's <see cref="RunFolderLock"/> held: no other process writes
/// there, so every temporary file not of this process is stale.
/// </summary>
internal static class StaleTemporaryFiles
{
    public static void Remove(string folder, ILogger logger)
    {
        string own = $".{Environment.ProcessId}.tmp";
        long count = 0, bytes = 0;
        foreach (var file in Directory.EnumerateFiles(folder, ".*.tmp"))
        {
            if (file.EndsWith(own, StringComparison.Ordinal)) continue;
            try
            {
                long length = new FileInfo(file).Length;
                File.Delete(file);
                count++;
                bytes += length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning("could not remove the stale temporary file {File}: {Reason}", file, e.Message);
            }
        }
        if (count > 0) logger.LogInformation("removed {Count} stale temporary file(s) ({MiB:0.0} MiB) of earlier, killed processes from {Folder}", count, bytes / 1048576.0, folder);
    }
}
