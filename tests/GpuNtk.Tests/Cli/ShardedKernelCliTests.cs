using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Kernels.Sinks;
using GpuNtk.Networks;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Cli;

/// <summary>
/// The real <c>gpuntk ntk/kernel --out</c> in several processes: under mpirun, killed and restarted, and with an output
/// much larger than its memory budget.
/// </summary>
[NonParallelizable]
public sealed class ShardedKernelCliTests
{
    private const string Arch = "fcn:depth=1,width=32,in=8,out=2";

    [SetUp]
    public void RequireCli() => GpuNtkProcess.RequireBuilt();

    [Test]
    public void MpirunWithThreeWorkersWritesTheSingleProcessFileBitForBit()
    {
        var mpirun = GpuNtkProcess.OnPath("mpirun");
        if (mpirun is null) Assert.Ignore("mpirun not found on PATH: install Debian's openmpi-bin (.ci/run does) to run the launcher test");
        using var dir = new TempDirectory();
        string[] ntk = ["ntk", "--arch", Arch, "--random", "40", "--device", "cpu", "--full", "--tile-size", "6"]; // 7 tile rows: 28 tiles

        // Bit for bit needs the same CPU thread count everywhere (BLAS splits its work by thread): one per worker.
        var oneThread = new Dictionary<string, string> { ["OMP_NUM_THREADS"] = "1" };
        var single = GpuNtkProcess.Run(dir.Path, oneThread, [.. ntk, "--out", "single.npy"]);
        Assert.That(single.ExitCode, Is.Zero, single.ToString());
        // Each rank's stdout to its own file (mpiout/1/rank.N/stdout): on one shared stdout the ranks' JSON lines can
        // interleave mid-line.
        var mpi = GpuNtkProcess.RunProgram(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "3", "-x", "OMP_NUM_THREADS=1",
            "--output-filename", "mpiout", GpuNtkProcess.DotNet, GpuNtkProcess.Dll!, .. ntk, "--out", "mpi.npy", "--shard", "auto"], dir.Path);
        Assert.That(mpi.ExitCode, Is.Zero, mpi.ToString());

        var workers = Directory.GetFiles(dir["mpiout"], "stdout", SearchOption.AllDirectories)
            .SelectMany(f => new GpuNtkProcess.Result(0, File.ReadAllText(f), "").Json).ToList();
        Assert.That(workers.Select(w => w.GetProperty("shard").GetString()).Order(), Is.EqualTo(new[] { "0/3", "1/3", "2/3" }));
        Assert.That(workers.Sum(w => w.GetProperty("computed").GetInt32()), Is.EqualTo(28), "every tile computed once");
        Assert.That(File.ReadAllBytes(dir["mpi.npy"]), Is.EqualTo(File.ReadAllBytes(dir["single.npy"])), "same tiles, same bytes");
        var status = GpuNtkProcess.Run(dir.Path, "kernel-status", "mpi.npy", "--verify");
        Assert.That(status.ExitCode, Is.Zero, status.ToString());
        Assert.That(status.Json[0].GetProperty("verified").GetBoolean());
    }

    [Test]
    public void AWorkerKilledMidRunAndRestartedCompletesTheFile()
    {
        using var dir = new TempDirectory();
        string[] ntk = ["ntk", "--arch", Arch, "--random", "48", "--device", "cpu", "--tile-size", "1", "--out", "k.npy"]; // 1176 tiles
        using (var worker = GpuNtkProcess.Start(GpuNtkProcess.DotNet, [GpuNtkProcess.Dll!, .. ntk], dir.Path))
        {
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (RecordedTiles(dir["k.npy.tiles"]) < 20 && !worker.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.That(worker.HasExited, Is.False, "the worker finished before it could be killed; give it more tiles");
            worker.Kill(entireProcessTree: true); // SIGKILL: no cleanup of any kind
            worker.WaitForExit();
        }
        var killed = GpuNtkProcess.Run(dir.Path, "kernel-status", "k.npy");
        Assert.That(killed.ExitCode, Is.EqualTo(3), killed.ToString());
        int done = killed.Json[0].GetProperty("done").GetInt32();
        Assert.That(done, Is.InRange(20, 1175));

        var rerun = GpuNtkProcess.Run(dir.Path, ntk);
        Assert.That(rerun.ExitCode, Is.Zero, rerun.ToString());
        Assert.That(rerun.Json[0].GetProperty("skipped").GetInt32(), Is.EqualTo(done), "only the missing tiles are recomputed");
        var status = GpuNtkProcess.Run(dir.Path, "kernel-status", "k.npy", "--verify");
        Assert.That(status.ExitCode, Is.Zero, status.ToString());

        // The same kernel in this process (same spec, seed and random draw as gpuntk ntk --random).
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Arch, 0, ScalarType.Float32, CPU);
        using var g = new Generator(1);
        var x = randn([48, 8], ScalarType.Float64, CPU, generator: g).to(ScalarType.Float32);
        var expected = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace));
        var fromFile = NpyFile.Read(dir["k.npy"]);
        Assert.That((fromFile - expected).abs().max().item<float>(), Is.LessThan(1e-5f * expected.abs().max().item<float>()));
    }

    [Test]
    public void AnOutputLargerThanTheTileBudgetKeepsPeakMemoryAtTheBudgetPlusAConstant()
    {
        using var dir = new TempDirectory();
        // 4000² float32 = 64 MB of output against a 4 MiB tile budget; the small run's output is 1 MB.
        double Peak(int n, string file)
        {
            var r = GpuNtkProcess.Run(dir.Path, "ntk", "--arch", Arch, "--random", n.ToString(), "--device", "cpu", "--memory-budget-mb", "4", "--out", file);
            Assert.That(r.ExitCode, Is.Zero, r.ToString());
            var peak = r.Json[0].GetProperty("peak_rss_mib");
            if (peak.ValueKind != System.Text.Json.JsonValueKind.Number) Assert.Ignore("no /proc/self/status here: peak memory is not measurable");
            return peak.GetDouble();
        }
        double small = Peak(500, "small.npy"), large = Peak(4000, "large.npy");
        Assert.That(new FileInfo(dir["large.npy"]).Length, Is.GreaterThan(64_000_000));
        Assert.That(large - small, Is.LessThan(4 + 24), $"peak RSS {large:F1} MiB for a 64 MB kernel vs {small:F1} MiB for a 1 MB one");
    }

    [Test]
    public void AnalyticKernelShardsFillOneFileEqualToTheInMemoryKernel()
    {
        using var dir = new TempDirectory();
        string[] kernel = ["kernel", "--analytic", "--arch", "fcn:depth=2,in=8", "--random", "30", "--dtype", "float64", "--device", "cpu", "--tile-size", "7"];
        foreach (var shard in new[] { "1/2", "0/2" })
        {
            var r = GpuNtkProcess.Run(dir.Path, [.. kernel, "--out", "k.npy", "--shard", shard]);
            Assert.That(r.ExitCode, Is.Zero, r.ToString());
        }
        var refused = GpuNtkProcess.Run(dir.Path, [.. kernel[..^1], "8", "--out", "k.npy"]);
        Assert.That(refused.ExitCode, Is.EqualTo(1), refused.ToString());
        Assert.That(refused.Err, Does.Contain("tile size 7 vs 8"), "a rerun with another tile size is refused");
        Assert.That(KernelFileStatus.Read(dir["k.npy"]).IsComplete);

        using var scope = NewDisposeScope();
        using var g = new Generator(1);
        var x = randn([30, 8], ScalarType.Float64, CPU, generator: g);
        var whole = GpuNtk.Kernels.Analytic.AnalyticKernel.FromSpec("fcn:depth=2,in=8").Ntk(x);
        var fromFile = NpyFile.Read(dir["k.npy"]);
        Assert.That((fromFile - whole).abs().max().item<double>(), Is.LessThan(1e-12 * whole.abs().max().item<double>()));
    }

    private static int RecordedTiles(string folder)
    {
        try
        {
            return Directory.Exists(folder) ? TileManifest.Read(folder).Done.Count : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
