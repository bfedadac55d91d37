namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// What an implementation computes once per tile of examples (signals, Jacobians, or just the inputs) and reuses for
/// every block of Θ in that tile's row or column. Owns its tensors.
/// </summary>
internal abstract class TileFeatures(long count) : IDisposable
{
    /// <summary>Examples in the tile.</summary>
    public long Count { get; } = count;

    public abstract void Dispose();
}
