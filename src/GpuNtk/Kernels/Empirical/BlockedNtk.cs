using System.Diagnostics;
using GpuNtk.Kernels.Sharding;
using GpuNtk.Kernels.Sinks;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Tiles X1×X2 into blocks sized from the memory budget (or <see cref="NtkOptions.BlockSize"/>) and assembles Θ.
/// Any N works: the last tile is simply shorter. Symmetric (X2 omitted): only blocks on and above the diagonal are
/// computed, the others are their mirror images. Blocks go to the workers (<see cref="NtkWorkerSet"/>: one, or one
/// per device) through a shared <see cref="BlockQueue"/> in row-major order. Tile features (captures, Jacobians) are
/// cached per worker across blocks when all of them fit in half the budget, and recomputed per block otherwise.
/// Progress is reported after each block; cancellation is checked before each.
/// </summary>
/// <remarks>
/// Concurrent writes into Θ need no lock: every block (and its mirror) covers a region of Θ that no other task
/// touches, <c>narrow</c> makes a new view without changing Θ's metadata, and <c>copy_</c> writes only that view's
/// elements. Across devices ATen orders the copy after the source device's pending work and makes the destination
/// device's current stream wait for it (two-way event barrier), so Θ is complete in stream order on its device when
/// the last worker returns; copies into host memory are synchronous.
/// </remarks>
internal static class BlockedNtk
{
    public static Tensor Assemble(NtkWorkerSet workers, Tensor x1, Tensor? x2, long outputs, NtkOptions options)
    {
        long n1 = x1.shape[0], n2 = x2?.shape[0] ?? n1;
        long tile = TileSize(workers.Workers[0].Kernel, Math.Max(n1, n2), options, workers.Workers.Count, symmetric: x2 is null);
        var device = options.AssembleOnHost ? CPU : x1.device;
        var watch = Stopwatch.StartNew();

        if (options.IsDiagonal)
        {
            long[] shape = options.Output == NtkOutput.DiagonalFull ? [n1, outputs, outputs] : [n1];
            var diag = empty(shape, x1.dtype, device);
            var starts = Starts(n1, tile);
            var tiles = new BlockQueue(starts.Count, workers.Workers.Count, options);
            RunOrRelease(diag, () => workers.Run(w =>
            {
                while (tiles.TryTake(workers.Stop, out int t))
                {
                    using var scope = NewDisposeScope();
                    var (s, len) = starts[t];
                    using var features = w.Kernel.Prepare(w.X1.narrow(0, s, len));
                    diag.narrow(0, s, len).copy_(w.Kernel.Diagonal(features, options.Output));
                    tiles.Completed(w.Index);
                }
            }));
            tiles.LogDistribution(options.Logger, workers.Workers, watch.Elapsed);
            return diag;
        }

        var layout = new KernelLayout(new KernelTiling(n1, n2, tile, symmetric: x2 is null),
            options.Output == NtkOutput.Full ? outputs : null, x1.dtype, Parameters: "");
        using var sink = new MemoryKernelSink(layout, device);
        Fill(workers, sink, Shard.Single, options);
        return sink.TakeResult();
    }

    /// <summary>
    /// Computes <paramref name="shard"/>'s tiles of the sink's tiling that the sink does not hold yet, spread over the
    /// workers, and writes each block to the sink (which mirrors off-diagonal tiles of a symmetric kernel).
    /// </summary>
    public static TileRunSummary Fill(NtkWorkerSet workers, IKernelSink sink, Shard shard, NtkOptions options)
    {
        var tiling = sink.Layout.Tiling;
        var mine = tiling.For(shard);
        var todo = mine.Where(t => !sink.Contains(t)).ToList();
        var sizing = workers.Workers[0].Kernel;
        long columnTiles = (tiling.N2 + tiling.TileSize - 1) / tiling.TileSize;
        bool cacheColumns = columnTiles > 1 && tiling.N2 * sizing.FeatureBytesPerExample <= options.MemoryBudgetBytes / 2;
        var watch = Stopwatch.StartNew();
        var queue = new BlockQueue(todo.Count, workers.Workers.Count, options);
        workers.Run(w => RunBlocks(w, queue, todo, tiling.Symmetric, cacheColumns, sink, options.Output, workers.Stop));
        queue.LogDistribution(options.Logger, workers.Workers, watch.Elapsed);
        return new TileRunSummary(todo.Count, mine.Count - todo.Count);
    }

    /// <summary>
    /// One worker's loop: takes tiles until the queue is empty. It keeps the features of its current row tile and,
    /// when <paramref name="cacheColumns"/>, of every tile it prepared (so the symmetric case also reuses rows as
    /// columns). Everything it creates, it disposes, on its own thread.
    /// </summary>
    private static void RunBlocks(NtkWorker w, BlockQueue queue, List<KernelTile> tiles, bool symmetric, bool cacheColumns,
        IKernelSink sink, NtkOutput output, CancellationToken stop)
    {
        var kernel = w.Kernel;
        var xcols = w.X2 ?? w.X1;
        var cache = new Dictionary<int, TileFeatures>();
        int currentRow = -1;
        TileFeatures? rowFeatures = null;
        void ReleaseRow()
        {
            if (rowFeatures is not null && !cache.ContainsValue(rowFeatures)) rowFeatures.Dispose();
            rowFeatures = null;
        }
        try
        {
            while (queue.TryTake(stop, out int k))
            {
                var tile = tiles[k];
                int p = tile.Row, q = tile.Column;
                if (p != currentRow)
                {
                    ReleaseRow();
                    currentRow = p;
                }
                using var scope = NewDisposeScope();
                rowFeatures ??= symmetric && cache.TryGetValue(p, out var cachedRow) ? cachedRow : kernel.Prepare(w.X1.narrow(0, tile.RowStart, tile.RowLength));
                if (symmetric && cacheColumns) cache.TryAdd(p, rowFeatures);
                TileFeatures colFeatures;
                bool ownColumn = false;
                if (symmetric && q == p) colFeatures = rowFeatures;
                else if (cache.TryGetValue(q, out var cached)) colFeatures = cached;
                else
                {
                    colFeatures = kernel.Prepare(xcols.narrow(0, tile.ColumnStart, tile.ColumnLength));
                    if (cacheColumns) cache[q] = colFeatures;
                    else ownColumn = true;
                }
                var block = kernel.Block(rowFeatures, colFeatures, output);
                if (ownColumn) colFeatures.Dispose();
                sink.Write(tile, block);
                queue.Completed(w.Index);
            }
        }
        finally
        {
            ReleaseRow();
            foreach (var f in cache.Values) f.Dispose();
        }
    }

    /// <summary>A failed or cancelled run frees the partial result at once rather than leaving it to the GC.</summary>
    private static void RunOrRelease(Tensor result, Action run)
    {
        try
        {
            run();
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The largest b with 2·b·(feature bytes) + b²·(pair bytes) within the budget — and, with several workers, small
    /// enough that there are at least two blocks (or diagonal tiles) per worker, so that every worker gets work and a
    /// faster one can take more — then evened out so the tiles of N examples have equal sizes (± 1).
    /// </summary>
    internal static long TileSize(INtkBlockKernel kernel, long n, NtkOptions options, int workers = 1, bool symmetric = true)
    {
        if (options.BlockSize is int fixedSize) return Math.Min(fixedSize, n);
        double f = Math.Max(1, kernel.FeatureBytesPerExample), p = Math.Max(1, kernel.BlockBytesPerPair(options.Output));
        double budget = options.MemoryBudgetBytes;
        double b = options.IsDiagonal ? budget / (f + p) : (-2 * f + Math.Sqrt(4 * f * f + 4 * p * budget)) / (2 * p);
        long size = Math.Clamp((long)Math.Floor(b), 1, n);
        if (workers > 1)
        {
            long minTiles = 1;
            while (Blocks(minTiles) < 2L * workers) minTiles++;
            size = Math.Min(size, Math.Max(1, (n + minTiles - 1) / minTiles));
        }
        long tiles = (n + size - 1) / size;
        return (n + tiles - 1) / tiles;

        long Blocks(long t) => options.IsDiagonal ? t : symmetric ? t * (t + 1) / 2 : t * t;
    }

    private static List<(long Start, long Length)> Starts(long n, long tile)
    {
        var list = new List<(long, long)>();
        for (long s = 0; s < n; s += tile) list.Add((s, Math.Min(tile, n - s)));
        return list;
    }
}
