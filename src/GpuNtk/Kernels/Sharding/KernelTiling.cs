namespace GpuNtk.Kernels.Sharding;

/// <summary>
/// How an <c>N1 × N2</c> kernel is cut into tiles of <see cref="TileSize"/> examples per side (the last row and column
/// of tiles are shorter when the size does not divide N). Symmetric (X2 = X1): only tiles on or above the diagonal,
/// mirrored on write. The list, and so every tile's index, depends on nothing else: two processes with the same
/// tiling agree on every tile — the basis of sharding and of resuming.
/// </summary>
public sealed record KernelTiling
{
    public KernelTiling(long n1, long n2, long tileSize, bool symmetric)
    {
        if (n1 < 1 || n2 < 1) throw new ArgumentException($"kernel of {n1} × {n2} examples: both sides need at least one example");
        if (tileSize < 1) throw new ArgumentException($"tile size {tileSize}: must be ≥ 1");
        if (symmetric && n1 != n2) throw new ArgumentException($"a symmetric kernel is square; got {n1} × {n2}");
        N1 = n1;
        N2 = n2;
        TileSize = tileSize;
        Symmetric = symmetric;
        Tiles = Build();
    }

    public long N1 { get; }
    public long N2 { get; }
    public long TileSize { get; }
    public bool Symmetric { get; }

    /// <summary>All tiles in row-major order (symmetric: upper triangle, diagonal included).</summary>
    public IReadOnlyList<KernelTile> Tiles { get; }

    /// <summary>The tiles <paramref name="shard"/> computes (<see cref="Shard.Take"/>).</summary>
    public IReadOnlyList<KernelTile> For(Shard shard) => shard.Take(Tiles);

    private List<KernelTile> Build()
    {
        int rows = checked((int)((N1 + TileSize - 1) / TileSize)), cols = checked((int)((N2 + TileSize - 1) / TileSize));
        var tiles = new List<KernelTile>();
        for (int p = 0; p < rows; p++)
            for (int q = Symmetric ? p : 0; q < cols; q++)
            {
                long rs = p * TileSize, cs = q * TileSize;
                tiles.Add(new KernelTile(tiles.Count, p, q, rs, Math.Min(TileSize, N1 - rs), cs, Math.Min(TileSize, N2 - cs)));
            }
        return tiles;
    }
}
