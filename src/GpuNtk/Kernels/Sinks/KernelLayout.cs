using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// What a kernel sink holds: the tiling of <c>N1 × N2</c>, <see cref="Outputs"/> (null: one number per pair,
/// <c>[N1, N2]</c>; O: a full kernel <c>[N1, N2, O, O]</c>), the element type, and <see cref="Parameters"/> — a
/// description of everything that determines the numbers (network, seed, inputs, method), so that a file started by
/// one run is never completed by a different one.
/// </summary>
public sealed record KernelLayout(KernelTiling Tiling, long? Outputs, ScalarType DType, string Parameters)
{
    /// <summary><c>[N1, N2]</c> or <c>[N1, N2, O, O]</c>.</summary>
    public long[] Shape => Outputs is long o ? [Tiling.N1, Tiling.N2, o, o] : [Tiling.N1, Tiling.N2];

    /// <summary>Elements per example pair: 1 or O².</summary>
    public long ElementsPerPair => Outputs is long o ? o * o : 1;

    /// <summary>Bytes of one element (float32: 4, float64: 8).</summary>
    public int ElementSize => DType switch
    {
        ScalarType.Float32 => 4,
        ScalarType.Float64 => 8,
        _ => throw new ArgumentException($"kernel dtype {DType}: use float32 or float64"),
    };

    /// <summary>Checks that <paramref name="block"/> has the shape and dtype of <paramref name="tile"/> in this layout.</summary>
    internal void CheckBlock(KernelTile tile, Tensor block)
    {
        long[] expected = Outputs is long o ? [tile.RowLength, tile.ColumnLength, o, o] : [tile.RowLength, tile.ColumnLength];
        if (!block.shape.SequenceEqual(expected) || block.dtype != DType)
            throw new ArgumentException($"tile {tile.Index}: block is {block.dtype} [{string.Join(", ", block.shape)}], " +
                                        $"the sink expects {DType} [{string.Join(", ", expected)}]");
    }

    /// <summary>Θ(X2, X1) from a block of Θ(X1, X2): <c>[j, i]</c> = <c>[i, j]</c>, or <c>[j, i, b, a]</c> = <c>[i, j, a, b]</c>.</summary>
    internal Tensor Mirror(Tensor block) => Outputs is null ? block.t() : block.permute(1, 0, 3, 2);
}
