using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GpuNtk.Training;

/// <summary>
/// One process per run folder: an exclusive lock on <c>&lt;out&gt;/.gpuntk.lock</c> (an OS file lock, released by the
/// kernel when the holder exits or is killed, so the lock of a dead process is taken over without a stale-lock guess),
/// with the holder's PID, host and start time in <c>.gpuntk.lock.owner</c> for the refusal message. Two processes on
/// one folder would interleave their checkpoints and metrics rows.
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    public const string LockFileName = ".gpuntk.lock";
    public const string OwnerFileName = ".gpuntk.lock.owner";
    private readonly FileStream _lock;

    private RunFolderLock(FileStream held) => _lock = held;

    /// <summary>Takes the lock of <paramref name="folder"/> (created if needed) or throws <see cref="IOException"/> naming the holder.</summary>
    public static RunFolderLock Acquire(string folder)
    {
        var path = Path.Combine(folder, LockFileName);
        FileStream held;
        try
        {
            Directory.CreateDirectory(folder);
            // FileShare.None is an exclusive, non-blocking flock on Unix (and a sharing lock on Windows).
            held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{folder}: cannot write the run folder ({e.Message}): choose an output folder you can write to", e);
        }
        catch (IOException e) when (File.Exists(path) && !Directory.Exists(path))
        {
            throw new IOException($"{folder} is in use by {Holder(folder)}: wait for it to end or stop it; " +
                                  "two processes on one run folder would interleave their checkpoints and metrics", e);
        }
        try
        {
            var owner = new JsonObject
            {
                ["pid"] = Environment.ProcessId, ["host"] = Environment.MachineName,
                ["since"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture),
            };
            var temp = Path.Combine(folder, $".{OwnerFileName}.{Environment.ProcessId}.tmp");
            File.WriteAllText(temp, owner.ToJsonString());
            File.Move(temp, Path.Combine(folder, OwnerFileName), overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            held.Dispose();
            throw new IOException($"{folder}: cannot write the run folder ({e.Message}): choose an output folder you can write to", e);
        }
        return new RunFolderLock(held);
    }

    /// <summary>"gpuntk process 1234 on host (since …)", from the owner file, or a plain phrase when it cannot be read.</summary>
    private static string Holder(string folder)
    {
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, OwnerFileName)))!.AsObject();
            return $"another gpuntk process (PID {o["pid"]} on host {o["host"]}, since {o["since"]})";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or NullReferenceException)
        {
            return "another process (its PID and host could not be read)";
        }
    }

    public void Dispose() => _lock.Dispose();
}
