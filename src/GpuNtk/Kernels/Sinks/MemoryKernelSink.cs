using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// The whole kernel as one tensor on <paramref name="device"/>. Concurrent writes need no lock: every tile (and its
/// mirror) covers a region no other tile touches, <c>narrow</c> makes a new view without changing the tensor's
/// metadata and <c>copy_</c> writes only that view's elements.
/// </summary>
public sealed class MemoryKernelSink(KernelLayout layout, Device device) : IKernelSink
{
    private readonly HashSet<int> _written = [];
    private readonly Lock _lock = new();
    private Tensor? _result = empty(layout.Shape, layout.DType, device);

    public KernelLayout Layout { get; } = layout;

    /// <summary>The kernel; call once, after every tile was written. The caller owns it (the sink no longer does).</summary>
    public Tensor TakeResult()
    {
        var r = _result ?? throw new InvalidOperationException("the result was already taken");
        _result = null;
        return r;
    }

    public bool Contains(KernelTile tile)
    {
        lock (_lock) return _written.Contains(tile.Index);
    }

    public void Write(KernelTile tile, Tensor block)
    {
        Layout.CheckBlock(tile, block);
        var result = _result ?? throw new InvalidOperationException("the result was already taken");
        using var scope = NewDisposeScope();
        result.narrow(0, tile.RowStart, tile.RowLength).narrow(1, tile.ColumnStart, tile.ColumnLength).copy_(block);
        if (Layout.Tiling.Symmetric && tile.Row != tile.Column)
            result.narrow(0, tile.ColumnStart, tile.ColumnLength).narrow(1, tile.RowStart, tile.RowLength).copy_(Layout.Mirror(block));
        lock (_lock) _written.Add(tile.Index);
    }

    public void Dispose()
    {
        _result?.Dispose();
        _result = null;
    }
}
