using System.Globalization;
using System.Text;
using GpuNtk.Checkpoints;
using GpuNtk.Kernels.Sharding;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// The record of finished tiles next to a kernel file <c>OUT.npy</c>: the folder <c>OUT.npy.tiles/</c> with
/// <c>layout.json</c> (what the file holds, <see cref="KernelLayoutFile"/>) and one append-only log per shard,
/// <c>shard-I-of-N.log</c>, one line per finished tile: <c>tile crc32 linecrc</c> (hex; the CRC-32 of the tile's
/// bytes as they sit in the file, row-major over the tile, and of the line's first two fields). A line is appended and
/// synced only after the tile's data is synced, so a crash loses at most the tile in progress; a torn or corrupt last
/// line is simply not counted. Logs of any shard count are read together, so a rerun may use another count.
/// </summary>
public sealed class TileManifest : IDisposable
{
    private readonly FileStream _log;
    private readonly Lock _lock = new();

    private TileManifest(string folder, FileStream log)
    {
        Folder = folder;
        _log = log;
    }

    /// <summary><c>OUT.npy.tiles</c>.</summary>
    public string Folder { get; }

    /// <summary>The manifest folder of <paramref name="kernelPath"/>.</summary>
    public static string FolderFor(string kernelPath) => Path.GetFullPath(kernelPath) + ".tiles";

    /// <summary>Opens (creating if needed) the log of <paramref name="shard"/> for appending.</summary>
    public static TileManifest OpenForAppend(string folder, Shard shard)
    {
        var path = Path.Combine(folder, $"shard-{shard.Index}-of-{shard.Count}.log");
        var log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        return new TileManifest(folder, log);
    }

    /// <summary>Appends that <paramref name="tile"/> is finished with checksum <paramref name="crc"/>, and syncs the log.</summary>
    public void Append(int tile, uint crc)
    {
        string fields = string.Create(CultureInfo.InvariantCulture, $"{tile} {crc:x8}");
        var line = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{fields} {Crc32.Compute(Encoding.ASCII.GetBytes(fields)):x8}\n"));
        lock (_lock)
        {
            _log.Write(line); // one write per line; one process per shard log (its workers share this stream)
            _log.Flush(flushToDisk: true);
        }
    }

    /// <summary>Finished tiles and their checksums, from every shard log in <paramref name="folder"/>.</summary>
    public static ManifestContents Read(string folder)
    {
        var done = new Dictionary<int, uint>();
        var conflicts = new SortedSet<int>();
        var perLog = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int unreadable = 0;
        if (!Directory.Exists(folder)) return new ManifestContents(done, conflicts, perLog, 0);
        foreach (var path in Directory.EnumerateFiles(folder, "shard-*.log").Order(StringComparer.Ordinal))
        {
            byte[] bytes;
            using (var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                bytes = new byte[s.Length];
                s.ReadExactly(bytes);
            }
            var text = Encoding.ASCII.GetString(bytes);
            int lines = 0, end = text.LastIndexOf('\n');
            foreach (var line in end < 0 ? [] : text[..end].Split('\n'))
            {
                if (!TryParse(line, out int tile, out uint crc)) { unreadable++; continue; }
                lines++;
                if (done.TryGetValue(tile, out var earlier) && earlier != crc) conflicts.Add(tile);
                done[tile] = crc;
            }
            if (end < text.Length - 1) unreadable++; // a torn last line (killed mid-append)
            perLog[Path.GetFileName(path)] = lines;
        }
        return new ManifestContents(done, conflicts, perLog, unreadable);
    }

    private static bool TryParse(string line, out int tile, out uint crc)
    {
        tile = 0;
        crc = 0;
        var parts = line.Split(' ');
        return parts.Length == 3
               && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out tile)
               && uint.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out crc)
               && uint.TryParse(parts[2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint check)
               && check == Crc32.Compute(Encoding.ASCII.GetBytes($"{parts[0]} {parts[1]}"));
    }

    public void Dispose() => _log.Dispose();
}

/// <summary>
/// What the shard logs say: the checksum of every finished tile, tiles recorded twice with different checksums
/// (<see cref="Conflicts"/>: two runs disagreed — the file holds one of them), lines per log, and lines not counted.
/// </summary>
public sealed record ManifestContents(IReadOnlyDictionary<int, uint> Done, IReadOnlySet<int> Conflicts,
    IReadOnlyDictionary<string, int> LinesPerLog, int UnreadableLines);
