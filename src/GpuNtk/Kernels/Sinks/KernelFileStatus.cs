using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Kernels.Sharding;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// Where a tile-by-tile kernel file stands (<c>gpuntk kernel-status</c>): its layout, the tiles its shard logs record,
/// the missing ones, and — with <see cref="Verify"/> — which recorded tiles no longer match their checksum (or, for a
/// symmetric kernel, whose mirror image differs from the tile's transpose).
/// </summary>
public sealed record KernelFileStatus(string Path, KernelLayout Layout, ManifestContents Manifest, IReadOnlyList<int> Missing)
{
    public int Total => Layout.Tiling.Tiles.Count;
    public int Done => Total - Missing.Count;
    public bool IsComplete => Missing.Count == 0;

    /// <summary>Reads the layout and the shard logs of the kernel file <paramref name="path"/> (not its data).</summary>
    public static KernelFileStatus Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var folder = TileManifest.FolderFor(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such kernel file", path);
        var layout = KernelLayoutFile.Read(folder);
        var manifest = TileManifest.Read(folder);
        var missing = layout.Tiling.Tiles.Where(t => !manifest.Done.ContainsKey(t.Index)).Select(t => t.Index).ToList();
        return new KernelFileStatus(path, layout, manifest, missing);
    }

    /// <summary>
    /// Rereads every recorded tile from the file and returns those whose bytes do not match (checksum, or mirror image).
    /// Reads each tile once (twice off the diagonal of a symmetric kernel): the cost of reading the file.
    /// </summary>
    public IReadOnlyList<int> Verify(CancellationToken cancellation = default)
    {
        var header = NpyFile.ReadHeader(Path);
        var bad = new List<int>();
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        foreach (var tile in Layout.Tiling.Tiles)
        {
            if (!Manifest.Done.TryGetValue(tile.Index, out uint crc)) continue;
            cancellation.ThrowIfCancellationRequested();
            var primary = ReadRegion(file, header.DataOffset, tile.RowStart, tile.ColumnStart, tile.RowLength, tile.ColumnLength);
            bool ok = Crc32.Compute(primary) == crc;
            if (ok && Layout.Tiling.Symmetric && tile.Row != tile.Column)
            {
                var mirror = ReadRegion(file, header.DataOffset, tile.ColumnStart, tile.RowStart, tile.ColumnLength, tile.RowLength);
                ok = MirrorMatches(primary, mirror, tile);
            }
            if (!ok) bad.Add(tile.Index);
        }
        return bad;
    }

    private byte[] ReadRegion(FileStream file, long dataOffset, long row, long column, long rows, long columns)
    {
        int rowBytes = checked((int)(columns * Layout.ElementsPerPair * Layout.ElementSize));
        var buffer = new byte[checked(rows * rowBytes)];
        for (long i = 0; i < rows; i++)
        {
            var slice = buffer.AsSpan(checked((int)(i * rowBytes)), rowBytes);
            if (RandomAccess.Read(file.SafeFileHandle, slice, NpyKernelFile.Offset(Layout, dataOffset, row + i, column)) != rowBytes)
                throw new InvalidDataException($"{Path}: shorter than its header declares; the file was truncated");
        }
        return buffer;
    }

    /// <summary>Mirror[j, i] (its O×O block transposed for a full kernel) equals tile[i, j], byte for byte.</summary>
    private bool MirrorMatches(byte[] tile, byte[] mirror, KernelTile t)
    {
        long o = Layout.Outputs ?? 1;
        int es = Layout.ElementSize;
        for (long i = 0; i < t.RowLength; i++)
            for (long j = 0; j < t.ColumnLength; j++)
                for (long a = 0; a < o; a++)
                    for (long b = 0; b < o; b++)
                    {
                        long src = (((i * t.ColumnLength + j) * o + a) * o + b) * es;
                        long dst = (((j * t.RowLength + i) * o + b) * o + a) * es;
                        if (!tile.AsSpan((int)src, es).SequenceEqual(mirror.AsSpan((int)dst, es))) return false;
                    }
        return true;
    }
}
