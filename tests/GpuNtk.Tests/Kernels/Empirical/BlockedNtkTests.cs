using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using TorchSharp;
using NUnit.Framework;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

public sealed class BlockedNtkTests
{
    [Test]
    public void TilingDoesNotChangeTheKernel()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Cnn, seed: 8, ScalarType.Float64);
        var x1 = Inputs(net, 7, seed: 31);
        var x2 = Inputs(net, 4, seed: 32);
        var whole = EmpiricalNtk.Compute(net, x1, x2, new NtkOptions(NtkOutput.Full, BlockSize: 100));
        var wholeSym = EmpiricalNtk.Compute(net, x1, null, new NtkOptions(NtkOutput.Full, BlockSize: 100));
        foreach (int b in new[] { 1, 3, 5 })
        {
            var tiled = EmpiricalNtk.Compute(net, x1, x2, new NtkOptions(NtkOutput.Full, BlockSize: b));
            var tiledSym = EmpiricalNtk.Compute(net, x1, null, new NtkOptions(NtkOutput.Full, BlockSize: b));
            Assert.That(RelativeError(tiled, whole), Is.LessThan(1e-12), $"block {b}");
            Assert.That(RelativeError(tiledSym, wholeSym), Is.LessThan(1e-12), $"block {b}, symmetric (mirrored blocks)");
        }
    }

    [Test]
    public void JacobianContractionSlicesLargeLayersWithinTheBudget()
    {
        using var scope = NewDisposeScope();
        // First layer: 64 output features × 601 inputs; both sides' Jacobians for 5 + 3 examples, 3 outputs, are
        // 8·3·601·8 B ≈ 115 kB per feature, so half of 1 MiB holds 4 features: the layer goes in 16 slices.
        using var net = NetworkFactory.Create("fcn:depth=1,width=64,in=600,out=3", seed: 10, ScalarType.Float64);
        var x1 = Inputs(net, 5, seed: 35);
        var x2 = Inputs(net, 3, seed: 36);
        var small = new NtkOptions(NtkOutput.Full, NtkImplementation.JacobianContraction, MemoryBudgetBytes: 1 << 20);
        Assert.That(RelativeError(EmpiricalNtk.Compute(net, x1, x2, small), ReferenceNtk.Compute(net, x1, x2, NtkOutput.Full)),
            Is.LessThan(1e-12));
        Assert.That(RelativeError(EmpiricalNtk.Compute(net, x1, null, small with { Output = NtkOutput.DiagonalFull }),
            ReferenceNtk.Compute(net, x1, null, NtkOutput.DiagonalFull)), Is.LessThan(1e-12));
    }

    [Test]
    public void TileSizeFollowsTheMemoryBudget()
    {
        var budget = new NtkOptions(NtkOutput.Full, MemoryBudgetBytes: 1 << 20);
        // 2·b·100 kB + b²·1 kB ≤ 1 MiB gives b = 5; 7 examples then split evenly into tiles of 4 and 3.
        var kernel = new FixedCostKernel(100_000, 1_000);
        Assert.That(BlockedNtk.TileSize(kernel, 7, budget), Is.EqualTo(4));
        Assert.That(BlockedNtk.TileSize(kernel, 3, budget), Is.EqualTo(3));
        Assert.That(BlockedNtk.TileSize(kernel, 1000, budget), Is.EqualTo(5));
        Assert.That(BlockedNtk.TileSize(new FixedCostKernel(10_000_000, 1_000), 10, budget), Is.EqualTo(1), "at least one example");
        Assert.That(BlockedNtk.TileSize(kernel, 1000, budget with { BlockSize = 64 }), Is.EqualTo(64), "an explicit block size wins");
        Assert.That(BlockedNtk.TileSize(kernel, 1000, budget with { Output = NtkOutput.DiagonalFull }), Is.EqualTo(10),
            "diagonal: b·(100 kB + 1 kB) ≤ 1 MiB");
    }

    [Test]
    public void ProgressReachesOneAndCancellationStops()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 5, seed: 33);
        var reports = new List<double>();
        var progress = new ProgressRecorder(reports.Add);
        EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace, Progress: progress, BlockSize: 2));
        Assert.That(reports, Has.Count.EqualTo(6), "3 tiles: 6 blocks on and above the diagonal");
        Assert.That(reports, Is.Ordered.Ascending);
        Assert.That(reports[^1], Is.EqualTo(1.0));

        using var cts = new CancellationTokenSource();
        int calls = 0;
        var cancelAfterFirst = new ProgressRecorder(_ => { if (++calls == 1) cts.Cancel(); });
        Assert.Throws<OperationCanceledException>(() =>
            EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace, Progress: cancelAfterFirst, Cancellation: cts.Token, BlockSize: 2)));
        Assert.That(calls, Is.EqualTo(1), "stopped before the second block");
        Assert.Throws<OperationCanceledException>(() =>
            EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.VectorProducts, Cancellation: cts.Token)));
    }

    [Test]
    public void AssemblesOnHostWhenAsked()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 3, seed: 34);
        var theta = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace, AssembleOnHost: true));
        Assert.That(theta.device.type, Is.EqualTo(DeviceType.CPU));
        Assert.That(theta.shape, Is.EqualTo(new long[] { 3, 3 }));
    }
}
