using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// What a layer needs besides the incoming state: whether the NTK is tracked, and the self-variances in front of each
/// nonlinearity. In the pair pass (inputs with themselves) the variances are read off the state and recorded, keyed by
/// layer; the grid pass (every pair of a block) reads the recorded rows and columns of its block.
/// </summary>
public sealed class KernelContext
{
    private readonly SelfVariances? _recording;
    private readonly SelfVariances? _rows;
    private readonly SelfVariances? _columns;
    private readonly long _rowStart, _rowCount, _columnStart, _columnCount;

    private KernelContext(bool trackNtk, SelfVariances? recording, SelfVariances? rows, long rowStart, long rowCount,
        SelfVariances? columns, long columnStart, long columnCount, bool fuseCpuKernels = false)
    {
        TrackNtk = trackNtk;
        FuseCpuKernels = fuseCpuKernels;
        _recording = recording;
        _rows = rows;
        _columns = columns;
        (_rowStart, _rowCount, _columnStart, _columnCount) = (rowStart, rowCount, columnStart, columnCount);
    }

    /// <summary>Whether layers propagate the NTK (false: NNGP only, about half the work).</summary>
    public bool TrackNtk { get; }

    /// <summary>Whether the grid pass may use fused CPU kernels for common layer pairs (ReLU → dense in float32).</summary>
    public bool FuseCpuKernels { get; }

    /// <summary>Pair pass that records the self-variances into <paramref name="recording"/>.</summary>
    public static KernelContext ForPairs(SelfVariances recording, bool trackNtk = false) =>
        new(trackNtk, recording, null, 0, 0, null, 0, 0);

    /// <summary>Grid pass over rows [rowStart, rowStart + rowCount) of X1 and the given columns of X2.</summary>
    public static KernelContext ForGrid(bool trackNtk, SelfVariances rows, long rowStart, long rowCount,
        SelfVariances columns, long columnStart, long columnCount, bool fuseCpuKernels = true) =>
        new(trackNtk, null, rows, rowStart, rowCount, columns, columnStart, columnCount, fuseCpuKernels);

    /// <summary>Self-variances of the representation entering <paramref name="layer"/>, broadcastable to the state.</summary>
    public (Tensor Var1, Tensor Var2) Variances(IKernelLayer layer, KernelState state)
    {
        if (state.IsPairs)
        {
            var v = state.PairDiagonal();
            _recording?.Record(layer, v);
            return state.Broadcast(v, v);
        }
        if (_rows is null || _columns is null)
            throw new InvalidOperationException("grid pass without recorded self-variances");
        return state.Broadcast(_rows.Get(layer).narrow(0, _rowStart, _rowCount),
                               _columns.Get(layer).narrow(0, _columnStart, _columnCount));
    }
}

/// <summary>Per-layer self-variances of one input set, recorded block by block in the pair pass.</summary>
public sealed class SelfVariances : IDisposable
{
    private readonly Dictionary<IKernelLayer, List<Tensor>> _parts = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<IKernelLayer, Tensor> _joined = new(ReferenceEqualityComparer.Instance);

    internal void Record(IKernelLayer layer, Tensor variances)
    {
        if (!_parts.TryGetValue(layer, out var list)) _parts[layer] = list = [];
        // A copy that outlives the block's dispose scope (the state's tensors may be overwritten in place).
        list.Add(variances.clone().DetachFromDisposeScope());
    }

    /// <summary>All recorded rows of <paramref name="layer"/>, in the order the blocks were recorded.</summary>
    public Tensor Get(IKernelLayer layer)
    {
        if (_joined.TryGetValue(layer, out var t)) return t;
        if (!_parts.TryGetValue(layer, out var list))
            throw new InvalidOperationException($"no self-variances were recorded for layer {layer.Name}");
        t = list.Count == 1 ? list[0] : cat(list, 0).DetachFromDisposeScope();
        if (list.Count > 1) foreach (var p in list) p.Dispose();
        _parts.Remove(layer);
        _joined[layer] = t;
        return t;
    }

    public void Dispose()
    {
        foreach (var list in _parts.Values) foreach (var t in list) t.Dispose();
        foreach (var t in _joined.Values) t.Dispose();
        _parts.Clear();
        _joined.Clear();
    }
}
