using System.Formats.Tar;
using System.IO.Compression;

namespace GpuNtk.Data;

/// <summary>Extracts <c>.tar.gz</c> archives (directories and regular files only), refusing entries that would land outside the destination.</summary>
public static class TarGzExtractor
{
    /// <summary>Extracts <paramref name="archive"/> under <paramref name="destination"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Extract(string archive, string destination, CancellationToken cancellation = default)
    {
        var root = Path.GetFullPath(destination);
        Directory.CreateDirectory(root);
        var written = new List<string>();
        using var file = File.OpenRead(archive);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        try
        {
            while (reader.GetNextEntry() is { } entry)
            {
                cancellation.ThrowIfCancellationRequested();
                if (entry.EntryType is not (TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                var target = Path.GetFullPath(Path.Combine(root, entry.Name));
                if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && target != root)
                    throw new InvalidDataException($"{archive}: entry '{entry.Name}' points outside the destination; the archive is not trustworthy");
                if (entry.EntryType == TarEntryType.Directory)
                {
                    Directory.CreateDirectory(target);
                    continue;
                }
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                entry.ExtractToFile(target, overwrite: true);
                written.Add(target);
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException && e.Message.IndexOf(archive, StringComparison.Ordinal) < 0)
        {
            throw new InvalidDataException($"{archive}: not a readable .tar.gz archive ({e.Message}); delete it and download again", e);
        }
        return written;
    }
}
