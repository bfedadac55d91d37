using Microsoft.Extensions.Logging;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Hands out the tasks (blocks or diagonal tiles) 0…Count−1 to workers in order, one at a time, so a faster worker
/// simply takes more; counts what each worker did and reports progress.
/// </summary>
internal sealed class BlockQueue(int count, int workers, NtkOptions options)
{
    private int _next = -1;
    private int _done;
    private readonly int[] _perWorker = new int[workers];
    private readonly Lock _report = new();

    public int Count { get; } = count;

    /// <summary>
    /// The next task, or false when none is left; throws <see cref="OperationCanceledException"/> when
    /// <paramref name="stop"/> is cancelled (checked before every task, after the queue is known not to be empty).
    /// </summary>
    public bool TryTake(CancellationToken stop, out int task)
    {
        task = Interlocked.Increment(ref _next);
        if (task >= Count) return false;
        stop.ThrowIfCancellationRequested();
        return true;
    }

    /// <summary>
    /// Called by a worker after each task. Progress is reported under a lock, so the caller's
    /// <see cref="IProgress{T}"/> sees one call at a time and increasing values that end at 1.
    /// </summary>
    public void Completed(int worker)
    {
        lock (_report)
        {
            _perWorker[worker]++;
            options.Progress?.Report(++_done / (double)Count);
        }
        options.BlockObserver?.Invoke(worker);
    }

    /// <summary>Tasks each worker completed.</summary>
    public IReadOnlyList<int> PerWorker
    {
        get { lock (_report) return _perWorker.ToArray(); }
    }

    public void LogDistribution(ILogger? logger, IReadOnlyList<NtkWorker> all, TimeSpan elapsed)
    {
        if (logger is null || all.Count < 2) return;
        var counts = PerWorker;
        logger.LogInformation("ntk: {Count} blocks in {Seconds:F3} s over {Workers} workers: {Split}", Count, elapsed.TotalSeconds, all.Count,
            string.Join(", ", all.Select(w => $"{w.Device}{(w.UsesReplica ? " (replica)" : "")} {counts[w.Index]}")));
    }
}
