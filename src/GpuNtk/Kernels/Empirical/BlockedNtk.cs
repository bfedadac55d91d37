using System.Diagnostics;
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
        var sizing = workers.Workers[0].Kernel;
        long tile = TileSize(sizing, Math.Max(n1, n2), options, workers.Workers.Count, symmetric: x2 is null);
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

        long[] resultShape = options.Output == NtkOutput.Full ? [n1, n2, outputs, outputs] : [n1, n2];
        var theta = empty(resultShape, x1.dtype, device);
        var rows = Starts(n1, tile);
        var cols = x2 is null ? rows : Starts(n2, tile);
        bool symmetric = x2 is null;
        var blocks = new List<(int Row, int Column)>();
        for (int p = 0; p < rows.Count; p++)
            for (int q = symmetric ? p : 0; q < cols.Count; q++)
                blocks.Add((p, q));
        bool cacheColumns = cols.Count > 1 && n2 * sizing.FeatureBytesPerExample <= options.MemoryBudgetBytes / 2;
        var queue = new BlockQueue(blocks.Count, workers.Workers.Count, options);
        RunOrRelease(theta, () => workers.Run(w => RunBlocks(w, queue, blocks, rows, cols, symmetric, cacheColumns, theta, options.Output, workers.Stop)));
        queue.LogDistribution(options.Logger, workers.Workers, watch.Elapsed);
        return theta;
    }

    /// <summary>
    /// One worker's loop: takes blocks until the queue is empty. It keeps the features of its current row tile and,
    /// when <paramref name="cacheColumns"/>, of every tile it prepared (so the symmetric case also reuses rows as
    /// columns). Everything it creates, it disposes, on its own thread.
    /// </summary>
    private static void RunBlocks(NtkWorker w, BlockQueue queue, List<(int Row, int Column)> blocks,
        List<(long Start, long Length)> rows, List<(long Start, long Length)> cols, bool symmetric, bool cacheColumns,
        Tensor theta, NtkOutput output, CancellationToken stop)
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
                var (p, q) = blocks[k];
                if (p != currentRow)
                {
                    ReleaseRow();
                    currentRow = p;
                }
                var (rs, rl) = rows[p];
                var (cs, cl) = cols[q];
                using var scope = NewDisposeScope();
                rowFeatures ??= symmetric && cache.TryGetValue(p, out var cachedRow) ? cachedRow : kernel.Prepare(w.X1.narrow(0, rs, rl));
                if (symmetric && cacheColumns) cache.TryAdd(p, rowFeatures);
                TileFeatures colFeatures;
                bool ownColumn = false;
                if (symmetric && q == p) colFeatures = rowFeatures;
                else if (cache.TryGetValue(q, out var cached)) colFeatures = cached;
                else
                {
                    colFeatures = kernel.Prepare(xcols.narrow(0, cs, cl));
                    if (cacheColumns) cache[q] = colFeatures;
                    else ownColumn = true;
                }
                var block = kernel.Block(rowFeatures, colFeatures, output);
                if (ownColumn) colFeatures.Dispose();
                Place(theta, block, rs, cs);
                if (symmetric && q != p) Place(theta, Mirror(block, output), cs, rs);
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

    private static void Place(Tensor theta, Tensor block, long rowStart, long colStart) =>
        theta.narrow(0, rowStart, block.shape[0]).narrow(1, colStart, block.shape[1]).copy_(block);

    /// <summary>Θ(X2, X1) from Θ(X1, X2): [j, i, b, a] = [i, j, a, b].</summary>
    private static Tensor Mirror(Tensor block, NtkOutput output) =>
        output == NtkOutput.Full ? block.permute(1, 0, 3, 2) : block.t();
}
