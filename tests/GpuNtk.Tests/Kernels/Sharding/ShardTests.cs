using GpuNtk.Kernels.Sharding;
using NUnit.Framework;

namespace GpuNtk.Tests.Kernels.Sharding;

public sealed class ShardTests
{
    [Test]
    public void ShardsTakeEveryTileExactlyOnceInBalancedContiguousRuns()
    {
        var tiling = new KernelTiling(50, 50, 8, symmetric: true); // 7 tile rows → 28 upper-triangle tiles
        Assert.That(tiling.Tiles, Has.Count.EqualTo(28));
        foreach (int n in new[] { 1, 2, 3, 5, 28, 40 })
        {
            var parts = Enumerable.Range(0, n).Select(i => tiling.For(new Shard(i, n))).ToList();
            Assert.That(parts.SelectMany(p => p).Select(t => t.Index), Is.EqualTo(Enumerable.Range(0, 28)), $"{n} shards, in order");
            Assert.That(parts.Max(p => p.Count) - parts.Min(p => p.Count), Is.LessThanOrEqualTo(1), $"{n} shards, balanced");
        }
    }

    [Test]
    public void TilingCoversTheKernelOnceCountingMirrors()
    {
        foreach (var (n1, n2, size, sym) in new[] { (50L, 50L, 8L, true), (13L, 7L, 4L, false), (5L, 5L, 9L, true) })
        {
            var covered = new int[n1, n2];
            foreach (var t in new KernelTiling(n1, n2, size, sym).Tiles)
                for (long i = 0; i < t.RowLength; i++)
                    for (long j = 0; j < t.ColumnLength; j++)
                    {
                        covered[t.RowStart + i, t.ColumnStart + j]++;
                        if (sym && t.Row != t.Column) covered[t.ColumnStart + j, t.RowStart + i]++;
                    }
            Assert.That(covered.Cast<int>().All(c => c == 1), $"{n1}×{n2}, tile {size}, symmetric {sym}");
        }
    }

    [Test]
    public void ParsesIOfNAndRejectsTheRest()
    {
        Assert.That(Shard.Parse("2/5"), Is.EqualTo(new Shard(2, 5)));
        Assert.Throws<FormatException>(() => Shard.Parse("2"));
        Assert.Throws<FormatException>(() => Shard.Parse("-1/3"));
        Assert.Throws<ArgumentException>(() => Shard.Parse("3/3"));
        Assert.Throws<ArgumentException>(() => Shard.Parse("0/0"));
    }
}
