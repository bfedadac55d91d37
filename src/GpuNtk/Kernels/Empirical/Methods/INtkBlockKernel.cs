using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// One NTK implementation as the blocked assembler sees it: per-tile work, then blocks of Θ from pairs of tiles.
/// </summary>
internal interface INtkBlockKernel
{
    NtkImplementation Implementation { get; }

    /// <summary>Work done once per tile of examples and reused by every block in that tile's row or column.</summary>
    TileFeatures Prepare(Tensor x);

    /// <summary>Θ between two tiles for <see cref="NtkOutput.Full"/> (<c>[b1, b2, O, O]</c>) or <see cref="NtkOutput.Trace"/> (<c>[b1, b2]</c>).</summary>
    Tensor Block(TileFeatures rows, TileFeatures columns, NtkOutput output);

    /// <summary>Θ(x_i, x_i) for a tile: <c>[b, O, O]</c> or <c>[b]</c>.</summary>
    Tensor Diagonal(TileFeatures tile, NtkOutput output);

    /// <summary>Bytes the features of one example take while they are alive (estimate for tile sizing).</summary>
    long FeatureBytesPerExample { get; }

    /// <summary>Working bytes per (row example, column example) pair of a block (estimate for tile sizing).</summary>
    long BlockBytesPerPair(NtkOutput output);
}
