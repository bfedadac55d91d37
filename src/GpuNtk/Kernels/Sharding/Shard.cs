using System.Globalization;

namespace GpuNtk.Kernels.Sharding;

/// <summary>
/// Worker <see cref="Index"/> of <see cref="Count"/> independent processes computing one kernel. Workers never talk to
/// each other: each derives its own tiles from the shared <see cref="KernelTiling"/> (<see cref="Take"/>).
/// </summary>
public readonly record struct Shard
{
    public Shard(int index, int count)
    {
        if (count < 1) throw new ArgumentException($"shard count {count}: must be ≥ 1");
        if (index < 0 || index >= count) throw new ArgumentException($"shard index {index}: must be in 0…{count - 1} for {count} shards");
        Index = index;
        Count = count;
    }

    public int Index { get; }
    public int Count { get; }

    /// <summary>The whole kernel in one process.</summary>
    public static Shard Single => new(0, 1);

    /// <summary>
    /// This shard's tiles: a contiguous run of the row-major list, runs balanced to ± 1 tile. Contiguous, so a shard
    /// mostly stays within a few tile rows and reuses their features; balanced by count, as tiles cost alike (only
    /// the last row/column is shorter).
    /// </summary>
    public IReadOnlyList<T> Take<T>(IReadOnlyList<T> tiles)
    {
        int from = (int)((long)tiles.Count * Index / Count), to = (int)((long)tiles.Count * (Index + 1) / Count);
        return tiles.Skip(from).Take(to - from).ToList();
    }

    /// <summary>Parses <c>i/n</c> (0-based index i of n shards).</summary>
    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                              || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            throw new FormatException($"shard '{text}': write i/n, the 0-based index i of n shards (e.g. 0/4)");
        return new Shard(i, n);
    }

    public override string ToString() => $"{Index}/{Count}";
}
