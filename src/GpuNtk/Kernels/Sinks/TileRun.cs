using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>What one worker did: tiles of its shard computed now, and those already in the sink (skipped).</summary>
public readonly record struct TileRunSummary(int Computed, int Skipped);

/// <summary>
/// The tile loop of a kernel computed tile by tile into a sink, for kernels whose tiles are independent calls
/// (analytic, Monte Carlo); the empirical NTK runs its own loop with feature caches and several devices
/// (<c>Empirical/BlockedNtk</c>) over the same tiles.
/// </summary>
public static class TileRun
{
    /// <summary>
    /// Computes <paramref name="shard"/>'s tiles that <paramref name="sink"/> lacks, in order; each block is freed as
    /// soon as it is written, so memory holds one tile at a time.
    /// </summary>
    public static TileRunSummary Fill(IKernelSink sink, Shard shard, Func<KernelTile, Tensor> computeTile,
        IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(computeTile);
        var mine = sink.Layout.Tiling.For(shard);
        var todo = mine.Where(t => !sink.Contains(t)).ToList();
        for (int k = 0; k < todo.Count; k++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            sink.Write(todo[k], computeTile(todo[k]));
            progress?.Report((k + 1) / (double)todo.Count);
        }
        return new TileRunSummary(todo.Count, mine.Count - todo.Count);
    }
}
