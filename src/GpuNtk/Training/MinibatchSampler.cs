using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Epochs of seeded random permutations drawn on the device; each batch is the next <see cref="BatchSize"/> indices of
/// the current permutation, and a new permutation starts when fewer remain (the remainder is skipped). With a batch at
/// least the data size every batch is the whole set, in order. Its complete state (generator state, permutation,
/// position) round-trips through <see cref="SaveState"/>/<see cref="LoadState"/>, so a resumed run draws the same batches.
/// </summary>
public sealed class MinibatchSampler : IDisposable
{
    private readonly Generator _generator;
    private readonly Device _device;
    private Tensor? _permutation;
    private long _position;

    public MinibatchSampler(long count, long batchSize, long seed, Device device)
    {
        if (count < 1) throw new ArgumentException("cannot sample from an empty data set");
        if (batchSize < 1) throw new ArgumentException($"batch size must be ≥ 1, got {batchSize}");
        Count = count;
        BatchSize = Math.Min(batchSize, count);
        _device = device;
        _generator = new Generator((ulong)seed, device);
    }

    public long Count { get; }
    public long BatchSize { get; }
    public bool IsFullBatch => BatchSize == Count;

    /// <summary>Indices <c>[B]</c> (int64, on the device) of the next batch; a view the caller may dispose.</summary>
    public Tensor Next()
    {
        if (IsFullBatch) return arange(Count, ScalarType.Int64, _device);
        if (_permutation is null || _position + BatchSize > Count)
        {
            _permutation?.Dispose();
            _permutation = randperm(Count, generator: _generator, dtype: ScalarType.Int64, device: _device).DetachFromDisposeScope();
            _position = 0;
        }
        var batch = _permutation.narrow(0, _position, BatchSize);
        _position += BatchSize;
        return batch;
    }

    /// <summary>The state as tensors (on the CPU): generator state, current permutation (empty before the first draw) and position.</summary>
    public IEnumerable<(string Name, Tensor Value)> SaveState()
    {
        yield return ("rng", _generator.get_state().cpu());
        yield return ("permutation", _permutation?.cpu() ?? empty(0, ScalarType.Int64));
        yield return ("position", tensor(_position));
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        _generator.set_state(state["rng"].cpu());
        var perm = state["permutation"];
        _permutation?.Dispose();
        _permutation = perm.numel() == 0 ? null : perm.to(_device).DetachFromDisposeScope();
        if (_permutation is not null && _permutation.shape[0] != Count)
            throw new InvalidDataException($"the checkpoint's sampler permutation has {_permutation.shape[0]} entries, the training set {Count}: it is from another data configuration");
        _position = state["position"].item<long>();
    }

    public void Dispose()
    {
        _permutation?.Dispose();
        _generator.Dispose();
    }
}
