using GpuNtk.Data;
using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Kernels.Sharding;
using GpuNtk.Kernels.Sinks;
using GpuNtk.Networks;
using NUnit.Framework;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Sinks;

public sealed class NpyKernelFileTests
{
    private static KernelLayout LayoutOf(Network net, Tensor x1, Tensor? x2, NtkOptions options, string parameters = "test") =>
        new(EmpiricalNtk.Tiling(net, x1, x2, options), options.Output == NtkOutput.Full ? net.Spec.Outputs : null, x1.dtype, parameters);

    private static TileRunSummary RunShard(string path, Network net, Tensor x1, Tensor? x2, NtkOptions options, Shard shard)
    {
        using var sink = NpyKernelFile.Open(path, LayoutOf(net, x1, x2, options), shard);
        return EmpiricalNtk.ComputeInto(net, x1, x2, sink, options, shard);
    }

    [TestCase(NtkOutput.Trace, ScalarType.Float32, false)]
    [TestCase(NtkOutput.Full, ScalarType.Float64, false)]
    [TestCase(NtkOutput.Full, ScalarType.Float32, true)]
    public void ShardsFillTheSameFileAsOneProcessBitForBitAndEqualTheInMemoryKernel(NtkOutput output, ScalarType dtype, bool withX2)
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 3, dtype);
        var x1 = Inputs(net, 11, seed: 40, dtype);
        var x2 = withX2 ? Inputs(net, 7, seed: 41, dtype) : null;
        var options = new NtkOptions(output, BlockSize: 3);

        var single = RunShard(dir["single.npy"], net, x1, x2, options, Shard.Single);
        int total = single.Computed;
        int sum = 0;
        for (int i = 0; i < 3; i++) sum += RunShard(dir["sharded.npy"], net, x1, x2, options, new Shard(i, 3)).Computed;

        Assert.That(sum, Is.EqualTo(total), "the shards computed every tile once");
        Assert.That(File.ReadAllBytes(dir["sharded.npy"]), Is.EqualTo(File.ReadAllBytes(dir["single.npy"])), "same bytes");
        var fromFile = NpyFile.Read(dir["sharded.npy"]);
        var inMemory = EmpiricalNtk.Compute(net, x1, x2, options);
        Assert.That(fromFile.dtype, Is.EqualTo(dtype));
        Assert.That(fromFile.eq(inMemory).all().item<bool>(), "the in-memory kernel has the same tiles, so the same numbers");
        var status = KernelFileStatus.Read(dir["sharded.npy"]);
        Assert.That((status.IsComplete, status.Manifest.LinesPerLog.Count), Is.EqualTo((true, 3)));
        Assert.That(status.Verify(), Is.Empty);
    }

    [Test]
    public void ARerunComputesOnlyTheTilesNoLogRecords()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 3, ScalarType.Float32);
        var x = Inputs(net, 10, seed: 42, ScalarType.Float32);
        var options = new NtkOptions(NtkOutput.Trace, BlockSize: 2); // 5 tile rows: 15 tiles
        var half = RunShard(dir["k.npy"], net, x, null, options, new Shard(0, 2));
        Assert.That(KernelFileStatus.Read(dir["k.npy"]).Missing, Has.Count.EqualTo(15 - half.Computed));

        // A worker killed while appending leaves a torn line: not counted, and the rerun's lines still parse.
        File.AppendAllText(Directory.GetFiles(dir["k.npy.tiles"], "shard-*.log")[0], "14 deadbe");
        var rest = RunShard(dir["k.npy"], net, x, null, options, Shard.Single);
        Assert.That((rest.Computed, rest.Skipped), Is.EqualTo((15 - half.Computed, half.Computed)));
        var status = KernelFileStatus.Read(dir["k.npy"]);
        Assert.That((status.IsComplete, status.Manifest.UnreadableLines), Is.EqualTo((true, 1)));
        Assert.That(NpyFile.Read(dir["k.npy"]).eq(EmpiricalNtk.Compute(net, x, null, options)).all().item<bool>());
        Assert.That(RunShard(dir["k.npy"], net, x, null, options, Shard.Single).Computed, Is.Zero, "nothing left to do");
    }

    [Test]
    public void AFileStartedWithOtherSettingsIsRefusedNamingWhatDiffers()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 3, ScalarType.Float32);
        var x = Inputs(net, 6, seed: 43, ScalarType.Float32);
        var options = new NtkOptions(NtkOutput.Trace, BlockSize: 2);
        NpyKernelFile.Open(dir["k.npy"], LayoutOf(net, x, null, options, "seed 0"), Shard.Single).Dispose();

        var other = Assert.Throws<ArgumentException>(() => NpyKernelFile.Open(dir["k.npy"], LayoutOf(net, x, null, options, "seed 1"), Shard.Single))!;
        Assert.That(other.Message, Does.Contain("seed 0 vs seed 1").And.Contain("delete"));
        var tiles = Assert.Throws<ArgumentException>(() =>
            NpyKernelFile.Open(dir["k.npy"], LayoutOf(net, x, null, options with { BlockSize = 3 }, "seed 0"), Shard.Single))!;
        Assert.That(tiles.Message, Does.Contain("tile size 2 vs 3"));

        NpyFile.Write(dir["foreign.npy"], zeros(4, 4));
        var foreign = Assert.Throws<ArgumentException>(() => NpyKernelFile.Open(dir["foreign.npy"], LayoutOf(net, x, null, options), Shard.Single))!;
        Assert.That(foreign.Message, Does.Contain("not this kernel's file"));
    }

    [Test]
    public void VerifyFindsATileWhoseBytesChangedAndABrokenMirror()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 3, ScalarType.Float32);
        var x = Inputs(net, 6, seed: 44, ScalarType.Float32);
        var options = new NtkOptions(NtkOutput.Trace, BlockSize: 2); // tiles 0:(0,0) 1:(0,1) 2:(0,2) 3:(1,1) 4:(1,2) 5:(2,2)
        RunShard(dir["k.npy"], net, x, null, options, Shard.Single);
        long data = NpyFile.ReadHeader(dir["k.npy"]).DataOffset;
        void Flip(long row, long col)
        {
            using var f = File.Open(dir["k.npy"], FileMode.Open, FileAccess.ReadWrite);
            f.Position = data + (row * 6 + col) * 4;
            int b = f.ReadByte();
            f.Position--;
            f.WriteByte((byte)(b ^ 1));
        }
        Flip(0, 5); // in tile 2
        Flip(5, 2); // below the diagonal: the mirror of [2, 5], in tile 4
        Assert.That(KernelFileStatus.Read(dir["k.npy"]).Verify(), Is.EqualTo(new[] { 2, 4 }));
    }

    [Test]
    public void AnalyticTilesComputedOneByOneAgreeWithTheWholeKernel()
    {
        using var scope = NewDisposeScope();
        var spec = ArchitectureSpec.Parse("fcn:depth=2,width=8,in=5,out=1");
        var kernel = AnalyticKernel.FromSpec(spec);
        var x = randn(9, 5, ScalarType.Float64);
        var layout = new KernelLayout(new KernelTiling(9, 9, 4, symmetric: true), null, ScalarType.Float64, "");
        using var sink = new KernelSinks().Open(null, layout, Shard.Single, CPU);
        var summary = TileRun.Fill(sink, Shard.Single, t =>
            kernel.Ntk(x.narrow(0, t.RowStart, t.RowLength), t.Row == t.Column ? null : x.narrow(0, t.ColumnStart, t.ColumnLength)));
        Assert.That(summary.Computed, Is.EqualTo(6));
        var tiled = ((MemoryKernelSink)sink).TakeResult();
        Assert.That(RelativeError(tiled, kernel.Ntk(x)), Is.LessThan(1e-13));
        Assert.That(tiled.eq(tiled.t()).all().item<bool>(), "mirrored exactly");
    }

    [Test]
    public void SinksArePickedByExtensionAndAShardedKernelNeedsAFile()
    {
        using var dir = new TempDirectory();
        var layout = new KernelLayout(new KernelTiling(4, 4, 2, symmetric: true), null, ScalarType.Float32, "");
        var sinks = KernelSinks.CreateDefault();
        using (var file = sinks.Open(dir["k.npy"], layout, Shard.Single, CPU)) Assert.That(file, Is.TypeOf<NpyKernelFile>());
        Assert.That(Assert.Throws<ArgumentException>(() => sinks.Open(dir["k.bin"], layout, Shard.Single, CPU))!.Message, Does.Contain(".npy"));
        Assert.Throws<ArgumentException>(() => sinks.Open(null, layout, new Shard(0, 2), CPU));
    }
}
