using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Tiles X1×X2 into blocks sized from the memory budget (or <see cref="NtkOptions.BlockSize"/>) and assembles Θ.
/// Any N works: the last tile is simply shorter. Symmetric (X2 omitted): only blocks on and above the diagonal are
/// computed, the others are their mirror images. Tile features (captures, Jacobians) are cached across blocks when
/// all of them fit in half the budget, and recomputed per block otherwise. Progress is reported after each block;
/// cancellation is checked before each.
/// </summary>
internal static class BlockedNtk
{
    public static Tensor Assemble(INtkBlockKernel kernel, Tensor x1, Tensor? x2, long outputs, NtkOptions options)
    {
        long n1 = x1.shape[0], n2 = x2?.shape[0] ?? n1;
        long tile = TileSize(kernel, Math.Max(n1, n2), options);
        var device = options.AssembleOnHost ? CPU : x1.device;
        var cancel = options.Cancellation;

        if (options.IsDiagonal)
        {
            long[] shape = options.Output == NtkOutput.DiagonalFull ? [n1, outputs, outputs] : [n1];
            var diag = empty(shape, x1.dtype, device);
            var starts = Starts(n1, tile);
            for (int t = 0; t < starts.Count; t++)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var (s, len) = starts[t];
                using var features = kernel.Prepare(x1.narrow(0, s, len));
                diag.narrow(0, s, len).copy_(kernel.Diagonal(features, options.Output));
                options.Progress?.Report((t + 1.0) / starts.Count);
            }
            return diag;
        }

        long[] resultShape = options.Output == NtkOutput.Full ? [n1, n2, outputs, outputs] : [n1, n2];
        var theta = empty(resultShape, x1.dtype, device);
        var rows = Starts(n1, tile);
        var cols = x2 is null ? rows : Starts(n2, tile);
        bool symmetric = x2 is null;
        long totalBlocks = symmetric ? rows.Count * (rows.Count + 1L) / 2 : (long)rows.Count * cols.Count;
        long done = 0;
        var xcols = x2 ?? x1;
        bool cacheColumns = cols.Count > 1 && n2 * kernel.FeatureBytesPerExample <= options.MemoryBudgetBytes / 2;
        var cache = new Dictionary<int, TileFeatures>();
        try
        {
            for (int p = 0; p < rows.Count; p++)
            {
                var (rs, rl) = rows[p];
                TileFeatures? rowFeatures = null;
                try
                {
                    for (int q = symmetric ? p : 0; q < cols.Count; q++)
                    {
                        cancel.ThrowIfCancellationRequested();
                        var (cs, cl) = cols[q];
                        using var scope = NewDisposeScope();
                        rowFeatures ??= symmetric && cache.TryGetValue(p, out var cachedRow) ? cachedRow : kernel.Prepare(x1.narrow(0, rs, rl));
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
                        var block = kernel.Block(rowFeatures, colFeatures, options.Output);
                        if (ownColumn) colFeatures.Dispose();
                        Place(theta, block, rs, cs, options.Output);
                        if (symmetric && q != p) Place(theta, Mirror(block, options.Output), cs, rs, options.Output);
                        options.Progress?.Report(++done / (double)totalBlocks);
                    }
                }
                finally
                {
                    if (rowFeatures is not null && !cache.ContainsValue(rowFeatures)) rowFeatures.Dispose();
                }
            }
        }
        finally
        {
            foreach (var f in cache.Values) f.Dispose();
        }
        return theta;
    }

    /// <summary>
    /// The largest b with 2·b·(feature bytes) + b²·(pair bytes) within the budget, then evened out so the tiles of
    /// N examples have equal sizes (± 1).
    /// </summary>
    internal static long TileSize(INtkBlockKernel kernel, long n, NtkOptions options)
    {
        if (options.BlockSize is int fixedSize) return Math.Min(fixedSize, n);
        double f = Math.Max(1, kernel.FeatureBytesPerExample), p = Math.Max(1, kernel.BlockBytesPerPair(options.Output));
        double budget = options.MemoryBudgetBytes;
        double b = options.IsDiagonal ? budget / (f + p) : (-2 * f + Math.Sqrt(4 * f * f + 4 * p * budget)) / (2 * p);
        long size = Math.Clamp((long)Math.Floor(b), 1, n);
        long tiles = (n + size - 1) / size;
        return (n + tiles - 1) / tiles;
    }

    private static List<(long Start, long Length)> Starts(long n, long tile)
    {
        var list = new List<(long, long)>();
        for (long s = 0; s < n; s += tile) list.Add((s, Math.Min(tile, n - s)));
        return list;
    }

    private static void Place(Tensor theta, Tensor block, long rowStart, long colStart, NtkOutput output) =>
        theta.narrow(0, rowStart, block.shape[0]).narrow(1, colStart, block.shape[1]).copy_(block);

    /// <summary>Θ(X2, X1) from Θ(X1, X2): [j, i, b, a] = [i, j, a, b].</summary>
    private static Tensor Mirror(Tensor block, NtkOutput output) =>
        output == NtkOutput.Full ? block.permute(1, 0, 3, 2) : block.t();
}
