using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>What an assembly did: tiles copied now, tiles the output already had, tiles still missing.</summary>
public readonly record struct AssemblySummary(int Copied, int AlreadyThere, int Missing);

/// <summary>
/// Merges kernel files that workers wrote separately (<c>gpuntk kernel-assemble</c>) — the fallback for file systems
/// without coherent concurrent writes to one file: each worker fills its own sparse copy (<c>--out theta.$i.npy
/// --shard $i/$n</c>), and one process copies every recorded tile, checksum-verified, into the output, which is a kernel
/// file like any other (resumable, with its own manifest; rerunning copies only what it lacks).
/// </summary>
public static class KernelFileAssembly
{
    public static AssemblySummary Assemble(string outPath, IReadOnlyList<string> parts, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(outPath);
        if (parts is not { Count: > 0 }) throw new ArgumentException("give at least one part file to assemble");
        var statuses = parts.Select(KernelFileStatus.Read).ToList();
        var layout = statuses[0].Layout;
        foreach (var s in statuses.Skip(1))
            if (KernelLayoutFile.Differences(s.Layout, layout) is { Count: > 0 } differences)
                throw new ArgumentException($"{s.Path} holds another kernel than {statuses[0].Path} ({string.Join("; ", differences)}): " +
                                            "assemble only the parts of one run");
        using var sink = NpyKernelFile.Open(outPath, layout, Shard.Single);
        int copied = 0, already = 0;
        var tiles = layout.Tiling.Tiles;
        foreach (var part in statuses)
        {
            long dataOffset = NpyFile.ReadHeader(part.Path).DataOffset;
            using var file = new FileStream(part.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            foreach (var (index, crc) in part.Manifest.Done.OrderBy(d => d.Key))
            {
                cancellation.ThrowIfCancellationRequested();
                if (index >= tiles.Count) continue;
                var tile = tiles[index];
                if (sink.Contains(tile)) { already++; continue; }
                var bytes = NpyKernelFile.ReadRegion(file, part.Path, layout, dataOffset, tile.RowStart, tile.ColumnStart, tile.RowLength, tile.ColumnLength);
                if (Crc32.Compute(bytes) != crc)
                    throw new InvalidDataException($"{part.Path}: tile {index} does not match its checksum (gpuntk kernel-status {part.Path} --verify); " +
                                                   "rerun that part's worker after removing the tile's line from its log");
                using var scope = NewDisposeScope();
                long[] shape = layout.Outputs is long o ? [tile.RowLength, tile.ColumnLength, o, o] : [tile.RowLength, tile.ColumnLength];
                var block = empty(shape, layout.DType);
                block.bytes = bytes;
                sink.Write(tile, block);
                copied++;
            }
        }
        int missing = tiles.Count(t => !sink.Contains(t));
        return new AssemblySummary(copied, already, missing);
    }
}
