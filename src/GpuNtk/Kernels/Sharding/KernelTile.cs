namespace GpuNtk.Kernels.Sharding;

/// <summary>
/// One block of a tiled kernel: rows <c>[RowStart, RowStart + RowLength)</c> of X1 against columns
/// <c>[ColumnStart, ColumnStart + ColumnLength)</c> of X2. <see cref="Index"/> is its position in
/// <see cref="KernelTiling.Tiles"/> (row-major; for a symmetric kernel only tiles on or above the diagonal exist, and each
/// off-diagonal one also fills its mirror image).
/// </summary>
public readonly record struct KernelTile(int Index, int Row, int Column, long RowStart, long RowLength, long ColumnStart, long ColumnLength)
{
    /// <summary>Entries (example pairs) in the tile.</summary>
    public long Pairs => RowLength * ColumnLength;
}
