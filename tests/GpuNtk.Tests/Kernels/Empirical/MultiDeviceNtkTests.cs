using System.Collections.Concurrent;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>
/// <see cref="NtkOptions.Devices"/> on the CPU: a device listed several times gives several workers (threads, each
/// with its own replica of the network), which is how the multi-device path is exercised without GPUs.
/// </summary>
public sealed class MultiDeviceNtkTests
{
    private static IReadOnlyList<Device> Cpus(int count) => Enumerable.Repeat(CPU, count).ToList();

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var impl in new[] { NtkImplementation.Structured, NtkImplementation.VectorProducts })
            foreach (var output in Enum.GetValues<NtkOutput>())
                foreach (bool cross in new[] { false, true })
                    foreach (int workers in new[] { 2, 3 })
                        if (!(cross && output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace))
                            yield return new TestCaseData(Fcn, impl, output, cross, workers)
                                .SetName($"{{m}}({impl},{output},{(cross ? "cross" : "symmetric")},{workers} workers)");
        foreach (bool cross in new[] { false, true })
            yield return new TestCaseData(Cnn, NtkImplementation.JacobianContraction, NtkOutput.Full, cross, 2)
                .SetName($"{{m}}(cnn,JacobianContraction,Full,{(cross ? "cross" : "symmetric")},2 workers)");
    }

    [TestCaseSource(nameof(Cases))]
    public void SpreadingOverWorkersMatchesOneDevice(string spec, NtkImplementation implementation, NtkOutput output, bool cross, int workers)
    {
        using var scope = NewDisposeScope();
        // Seed 8, not the replicas' seed 0: the replicas really copy the parameters. Tiles of 2 over 7 and 5 examples
        // are ragged (2, 2, 2, 1 and 2, 2, 1).
        using var net = NetworkFactory.Create(spec, seed: 8, ScalarType.Float64);
        var x1 = Inputs(net, 7, seed: 41);
        var x2 = cross ? Inputs(net, 5, seed: 42) : null;
        var single = new NtkOptions(output, implementation, BlockSize: 2);
        var one = EmpiricalNtk.Compute(net, x1, x2, single);
        var rendezvous = new Rendezvous(workers);
        var many = EmpiricalNtk.Compute(net, x1, x2, single with { Devices = Cpus(workers), BlockObserver = rendezvous.OnBlock });
        rendezvous.AssertEveryWorkerComputed();
        Assert.That(many.shape, Is.EqualTo(one.shape));
        Assert.That(RelativeError(many, one), Is.LessThan(1e-13));
    }

    [Test]
    public void FrozenParametersAndHostAssemblyCarryOverToReplicas()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 5, ScalarType.Float64);
        net.named_parameters().Single(p => p.name == "layers.1.weight").parameter.requires_grad_(false);
        var x = Inputs(net, 6, seed: 43);
        var options = new NtkOptions(NtkOutput.Full, BlockSize: 2);
        var one = EmpiricalNtk.Compute(net, x, null, options);
        var rendezvous = new Rendezvous(2);
        var many = EmpiricalNtk.Compute(net, x, null, options with { Devices = Cpus(2), AssembleOnHost = true, BlockObserver = rendezvous.OnBlock });
        rendezvous.AssertEveryWorkerComputed();
        Assert.That(many.device.type, Is.EqualTo(DeviceType.CPU));
        Assert.That(RelativeError(many, one), Is.LessThan(1e-13), "a replica that trained the frozen weight would add its term");
        var all = EmpiricalNtk.Compute(net, x, null, options with { Implementation = NtkImplementation.Reference });
        Assert.That(RelativeError(one, all), Is.LessThan(1e-12));
    }

    [Test]
    public void EveryWorkerComputesBlocks()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 8, seed: 44);
        const int workers = 3;
        var rendezvous = new Rendezvous(workers);
        var theta = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace, BlockSize: 2, Devices: Cpus(workers)) { BlockObserver = rendezvous.OnBlock });
        rendezvous.AssertEveryWorkerComputed();
        Assert.That(rendezvous.PerWorker.Values.Sum(), Is.EqualTo(10), "4 tiles: 10 blocks on and above the diagonal, each computed once");
        Assert.That(RelativeError(theta, EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace))), Is.LessThan(1e-13));
    }

    [Test]
    public void ASlowWorkerTakesFewerBlocks()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 10, seed: 45);
        var perWorker = new int[2];
        using var drained = new ManualResetEventSlim();
        bool timedOut = false;
        var options = new NtkOptions(NtkOutput.Trace, BlockSize: 2, Devices: Cpus(2))
        {
            BlockObserver = w =>
            {
                int mine = Interlocked.Increment(ref perWorker[w]);
                if (Volatile.Read(ref perWorker[0]) + Volatile.Read(ref perWorker[1]) == 15) drained.Set();
                // Worker 0 plays a device stuck in its first block until the queue is drained: a barrier, not a sleep,
                // so the outcome does not depend on the machine's load.
                if (w == 0 && mine == 1 && !drained.Wait(TimeSpan.FromSeconds(30))) timedOut = true;
            },
        };
        EmpiricalNtk.Compute(net, x, null, options);
        Assert.That(timedOut, Is.False, "worker 1 must take the blocks worker 0 cannot");
        Assert.That(perWorker.Sum(), Is.EqualTo(15), "5 tiles: 15 blocks");
        Assert.That(perWorker[0], Is.LessThanOrEqualTo(1), $"blocks per worker: {string.Join(", ", perWorker)}");
        Assert.That(perWorker[1], Is.GreaterThanOrEqualTo(14), $"blocks per worker: {string.Join(", ", perWorker)}");
    }

    [Test]
    public void ProgressIsMonotoneAndReachesOne()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 7, seed: 46);
        var reports = new List<double>();
        var progress = new ProgressRecorder(v => reports.Add(v)); // not thread-safe on purpose: reports must come one at a time
        EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, Progress: progress, BlockSize: 2, Devices: Cpus(2)));
        Assert.That(reports, Has.Count.EqualTo(10));
        Assert.That(reports, Is.Ordered.Ascending);
        Assert.That(reports[^1], Is.EqualTo(1.0));

        reports.Clear();
        EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.DiagonalTrace, Progress: progress, BlockSize: 2, Devices: Cpus(2)));
        Assert.That(reports, Is.EqualTo(new[] { 0.25, 0.5, 0.75, 1.0 }), "diagonal: one report per tile");
    }

    [Test]
    public void CancellationStopsEveryWorker()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 12, seed: 47);
        using var cts = new CancellationTokenSource();
        int reports = 0;
        var cancelAtFirst = new ProgressRecorder(_ => { if (Interlocked.Increment(ref reports) == 1) cts.Cancel(); });
        var options = new NtkOptions(NtkOutput.Trace, Progress: cancelAtFirst, Cancellation: cts.Token, BlockSize: 2, Devices: Cpus(2));
        Assert.Throws<OperationCanceledException>(() => EmpiricalNtk.Compute(net, x, null, options));
        int atReturn = Volatile.Read(ref reports);
        Assert.That(atReturn, Is.LessThanOrEqualTo(2), "each worker finishes at most the block it was computing (21 in all)");
        // Compute joins its workers before it returns; a late report of the first call would land during the second.
        Assert.Throws<OperationCanceledException>(() =>
            EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.VectorProducts, Cancellation: cts.Token, Devices: Cpus(2))));
        Assert.That(Volatile.Read(ref reports), Is.EqualTo(atReturn), "no worker runs on after Compute returned");
    }

    [Test]
    public void AWorkersExceptionReachesTheCallerAndStopsTheOthers()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 9, ScalarType.Float64);
        var x = Inputs(net, 12, seed: 48);
        using var failed = new ManualResetEventSlim();
        Thread? failing = null;
        int blocks = 0;
        var options = new NtkOptions(NtkOutput.Trace, BlockSize: 2, Devices: Cpus(2))
        {
            BlockObserver = w =>
            {
                Interlocked.Increment(ref blocks);
                if (w == 1)
                {
                    Volatile.Write(ref failing, Thread.CurrentThread);
                    failed.Set();
                    throw new InvalidOperationException("worker 1 failed");
                }
                // Worker 0 waits until the failing worker's thread has ended — it raises the stop before it ends — so it
                // asks for more work only after the stop: a barrier, not a sleep.
                if (failed.Wait(TimeSpan.FromSeconds(30))) Volatile.Read(ref failing)!.Join(TimeSpan.FromSeconds(30));
            },
        };
        var e = Assert.Throws<InvalidOperationException>(() => EmpiricalNtk.Compute(net, x, null, options));
        Assert.That(e!.Message, Is.EqualTo("worker 1 failed"), "the original exception, not a wrapper or a cancellation");
        Assert.That(blocks, Is.LessThan(21), "the other worker stopped instead of finishing the 21 blocks");
    }

    [Test]
    public void OnlyGpuNtkNetworksCanBeReplicated()
    {
        using var scope = NewDisposeScope();
        using var model = nn.Sequential(("0", nn.Linear(4, 6)), ("1", nn.Tanh()), ("2", nn.Linear(6, 2)));
        model.to(ScalarType.Float64);
        var x = randn(5, 4, ScalarType.Float64);
        var e = Assert.Throws<ArgumentException>(() => EmpiricalNtk.Compute(model, x, null, new NtkOptions(Devices: Cpus(2))));
        Assert.That(e!.Message, Does.Contain("GpuNtk.Networks.Network").And.Contain("Devices null"));
        // The model's own device alone needs no replica.
        var one = EmpiricalNtk.Compute(model, x, null, new NtkOptions(Devices: [CPU]));
        Assert.That(RelativeError(one, EmpiricalNtk.Compute(model, x)), Is.EqualTo(0));
    }

    [Test]
    public void UnusableDevicesAreRejectedUpFront()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new NtkOptions(Devices: [CPU, null!]).Validate())!.Message,
            Does.Contain("NtkOptions.Devices[1] is null"));
        // Without CUDA, TorchSharp cannot even construct a CUDA device; with it, an index past the last one is caught here.
        if (!cuda.is_available()) return;
        var e = Assert.Throws<ArgumentException>(() => new NtkOptions(Devices: [CPU, device(DeviceType.CUDA, cuda.device_count())]).Validate());
        Assert.That(e!.Message, Does.Contain("NtkOptions.Devices[1]").And.Contain("AllComputeDevices"));
    }

    [Test]
    public void TilesAreSplitSoEveryWorkerGetsWork()
    {
        // 1 GiB fits every example in one tile; with 2 workers the symmetric grid gets 3 tiles (6 blocks ≥ 2 per worker).
        var kernel = new FixedCostKernel(1000, 10);
        var options = new NtkOptions(NtkOutput.Trace);
        Assert.That(BlockedNtk.TileSize(kernel, 90, options), Is.EqualTo(90));
        Assert.That(BlockedNtk.TileSize(kernel, 90, options, workers: 2), Is.EqualTo(30));
        Assert.That(BlockedNtk.TileSize(kernel, 90, options, workers: 2, symmetric: false), Is.EqualTo(45), "2×2 = 4 blocks");
        Assert.That(BlockedNtk.TileSize(kernel, 90, options with { Output = NtkOutput.DiagonalTrace }, workers: 3), Is.EqualTo(15), "6 tiles");
        Assert.That(BlockedNtk.TileSize(kernel, 90, options with { BlockSize = 90 }, workers: 2), Is.EqualTo(90), "an explicit block size wins");
    }

    /// <summary>
    /// A block observer that makes each worker's first block wait until every worker has finished one, so that every
    /// worker (replicas included) provably computes part of Θ. If all blocks ran on one worker (or one thread), the
    /// wait times out and <see cref="AssertEveryWorkerComputed"/> fails.
    /// </summary>
    private sealed class Rendezvous(int workers)
    {
        private readonly CountdownEvent _started = new(workers);
        private volatile bool _timedOut;

        public ConcurrentDictionary<int, int> PerWorker { get; } = new();

        public void OnBlock(int worker)
        {
            if (PerWorker.AddOrUpdate(worker, 1, (_, c) => c + 1) != 1) return;
            _started.Signal();
            if (!_started.Wait(TimeSpan.FromSeconds(10))) _timedOut = true;
        }

        public void AssertEveryWorkerComputed()
        {
            Assert.That(_timedOut, Is.False, "every worker must compute a block while the others wait");
            Assert.That(PerWorker.Keys, Is.EquivalentTo(Enumerable.Range(0, workers)));
        }
    }
}
