using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// A kernel written tile by tile straight into a preallocated C-order <c>.npy</c> file, so memory is set by one tile,
/// not by N: each block row is one positioned write at its offset (header written once, at creation). Any number of
/// processes on any number of machines may fill one file over a shared file system — they never talk to each other:
/// <list type="bullet">
/// <item>the first to arrive creates the file (header, then the full length as a sparse file) under a temporary name
/// and publishes it by an atomic no-replace rename, as it does the layout in <c>OUT.npy.tiles/layout.json</c>; the
/// others find them and check that header and layout equal their own (a different run is refused, naming what
/// differs);</item>
/// <item>each finished tile is synced to disk and only then recorded, with its CRC-32, in the shard's append-only log
/// (<see cref="TileManifest"/>); so a killed worker loses at most its current tile, and a rerun skips every tile any
/// log records.</item>
/// </list>
/// Concurrent writers touch disjoint byte ranges; that needs a file system whose clients write back only the bytes
/// they wrote (local disks, Lustre, GPFS/Spectrum Scale, BeeGFS; NFS with its per-page dirty ranges and the sync after
/// every tile). <c>gpuntk kernel-status --verify</c> (<see cref="KernelFileStatus"/>) rereads every recorded tile and
/// checks its checksum.
/// </summary>
public sealed class NpyKernelFile : IKernelSink
{
    private readonly FileStream _file;
    private readonly TileManifest _manifest;
    private readonly HashSet<int> _done;
    private readonly Lock _lock = new();

    private NpyKernelFile(string path, KernelLayout layout, FileStream file, TileManifest manifest, HashSet<int> done, long dataOffset)
    {
        Path = path;
        Layout = layout;
        _file = file;
        _manifest = manifest;
        _done = done;
        DataOffset = dataOffset;
    }

    public string Path { get; }
    public KernelLayout Layout { get; }

    /// <summary>Byte offset of element [0, 0] (the header's length).</summary>
    public long DataOffset { get; }

    /// <summary>Tiles already recorded when the file was opened (by any shard).</summary>
    public int TilesDoneAtOpen { get; private init; }

    /// <summary>
    /// Opens <paramref name="path"/> for <paramref name="shard"/>, creating the file and its manifest if this is the
    /// first worker; refuses an existing file of another layout.
    /// </summary>
    public static NpyKernelFile Open(string path, KernelLayout layout, Shard shard)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(layout);
        var full = System.IO.Path.GetFullPath(path);
        var folder = TileManifest.FolderFor(full);
        Directory.CreateDirectory(folder);
        KernelLayoutFile.PublishOrCheck(folder, layout, path);

        var header = NpyFile.HeaderBytes(layout.DType, layout.Shape);
        long length = header.Length + checked(layout.Shape.Aggregate(1L, (a, d) => a * d) * layout.ElementSize);
        if (!File.Exists(full)) Create(full, header, length);
        var file = new FileStream(full, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        try
        {
            var onDisk = new byte[header.Length];
            int got = RandomAccess.Read(file.SafeFileHandle, onDisk, 0);
            if (got != header.Length || !onDisk.SequenceEqual(header) || file.Length != length)
                throw new ArgumentException($"{path} exists but is not this kernel's file (expected a {KernelLayoutFile.DTypeName(layout.DType)} " +
                                            $".npy of shape [{string.Join(", ", layout.Shape)}], {length} bytes; found {file.Length} bytes). " +
                                            $"Delete it (and {folder}) or choose another output path");
            var manifest = TileManifest.OpenForAppend(folder, shard);
            var done = TileManifest.Read(folder).Done.Keys.Where(t => t < layout.Tiling.Tiles.Count).ToHashSet();
            return new NpyKernelFile(path, layout, file, manifest, done, header.Length) { TilesDoneAtOpen = done.Count };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Header plus a sparse full-length file under a private name, then published (first creator wins).</summary>
    private static void Create(string path, byte[] header, long length)
    {
        var temp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!,
            $".{System.IO.Path.GetFileName(path)}.{Environment.MachineName}.{Environment.ProcessId}.tmp");
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            f.Write(header);
            f.SetLength(length);
            f.Flush(flushToDisk: true);
        }
        AtomicFile.PublishOrDiscard(temp, path);
    }

    public bool Contains(KernelTile tile)
    {
        lock (_lock) return _done.Contains(tile.Index);
    }

    public void Write(KernelTile tile, Tensor block)
    {
        Layout.CheckBlock(tile, block);
        using var scope = NewDisposeScope();
        var host = block.detach().cpu().contiguous();
        uint crc = WriteRegion(host, tile.RowStart, tile.ColumnStart);
        if (Layout.Tiling.Symmetric && tile.Row != tile.Column)
            WriteRegion(Layout.Mirror(host).contiguous(), tile.ColumnStart, tile.RowStart);
        _file.Flush(flushToDisk: true); // data durable before the manifest says so
        _manifest.Append(tile.Index, crc);
        lock (_lock) _done.Add(tile.Index);
    }

    /// <summary>Writes a C-contiguous host block at [row, column], one positioned write per block row; returns its CRC-32.</summary>
    private uint WriteRegion(Tensor host, long row, long column)
    {
        var bytes = host.bytes;
        long rows = host.shape[0];
        int rowBytes = checked((int)(bytes.Length / rows));
        var crc = new Crc32();
        for (long i = 0; i < rows; i++)
        {
            var slice = bytes.Slice(checked((int)(i * rowBytes)), rowBytes);
            RandomAccess.Write(_file.SafeFileHandle, slice, Offset(Layout, DataOffset, row + i, column));
            crc.Append(slice);
        }
        return crc.Value;
    }

    /// <summary>Byte offset of element [row, column] (and its O×O block) in a C-order file of <paramref name="layout"/>.</summary>
    internal static long Offset(KernelLayout layout, long dataOffset, long row, long column) =>
        dataOffset + (row * layout.Tiling.N2 + column) * layout.ElementsPerPair * layout.ElementSize;

    public void Dispose()
    {
        _manifest.Dispose();
        _file.Dispose();
    }
}
