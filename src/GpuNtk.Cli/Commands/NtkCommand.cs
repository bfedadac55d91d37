using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GpuNtk.Cli.Logging;
using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Kernels.Sinks;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Cli.Commands;

/// <summary><c>gpuntk ntk</c>: the empirical NTK of a network on inputs from .npy files (or seeded random inputs).</summary>
internal static class NtkCommand
{
    public static Command Create()
    {
        var arch = CommonOptions.Arch();
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();
        var inputs = new Option<string?>("--inputs") { Description = "X1 as a .npy array [N, …]; omitted: --random examples from N(0, 1)." };
        var inputs2 = new Option<string?>("--inputs2") { Description = "X2 as a .npy array; omitted: X2 = X1 (symmetric: each off-diagonal block computed once)." };
        var random = new Option<int>("--random") { Description = "Number of random inputs when --inputs is omitted.", DefaultValueFactory = _ => 4 };
        var full = new Option<bool>("--full") { Description = "Full kernel [N1, N2, O, O] (with --diagonal: [N, O, O])." };
        var trace = new Option<bool>("--trace") { Description = "Traced kernel [N1, N2], the mean over outputs (the default)." };
        var diagonal = new Option<bool>("--diagonal") { Description = "Only Θ(x_i, x_i): [N] (traced) or [N, O, O] with --full." };
        var implementation = new Option<string>("--implementation") { Description = "auto, sd (structured), jc (Jacobian contraction), vp (NTK-vector products) or reference.", DefaultValueFactory = _ => "auto" };
        var budget = new Option<double>("--memory-budget-mb") { Description = "Working memory per block (per worker with --devices), in MiB; sets the tile size.", DefaultValueFactory = _ => 1024 };
        var devices = new Option<string?>("--devices")
        {
            Description = "Spread the blocks of Θ over several devices, one worker thread each: all (every visible CUDA device) " +
                          "or a comma list such as cuda:0,cuda:1 (a device may repeat: cpu,cpu runs two CPU workers). The network " +
                          "is built on --device, where Θ is assembled, and replicated to the other devices. Omitted: --device only.",
        };
        var outPath = new Option<string?>("--out")
        {
            Description = "Write Θ to this .npy file, tile by tile (memory set by --memory-budget-mb, not by N), recording each finished " +
                          "tile in OUT.npy.tiles/: a rerun computes only missing tiles; see --shard and gpuntk kernel-status.",
        };
        var sharding = new ShardOptions();
        var checkpoint = CheckpointOptions.Checkpoint();

        var command = new Command("ntk", "Compute the empirical neural tangent kernel Θ(X1, X2) of a network at initialisation (or at --checkpoint weights).");
        var allowNonfinite = KernelInputs.AllowNonfinite();
        foreach (var o in new Option[] { allowNonfinite, arch, checkpoint, inputs, inputs2, random, full, trace, diagonal, implementation, dtype, device, devices, seed, budget, outPath })
            command.Options.Add(o);
        foreach (var o in sharding.All) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var output = ParseOutput(parse.GetValue(full), parse.GetValue(trace), parse.GetValue(diagonal));
            var requested = ParseImplementation(parse.GetValue(implementation)!);
            var dt = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var dev = CommonOptions.ParseDevice(parse.GetValue(device)!);
            var devicesText = parse.GetValue(devices);
            var workerDevices = devicesText is null ? null : GpuNtk.Devices.DeviceSelector.ParseList(devicesText);
            using var net = NetworkFactory.Create(parse.GetValue(arch)!, parse.GetValue(seed), dt, dev);
            CheckpointOptions.Apply(net, parse.GetValue(checkpoint));
            var x1 = KernelInputs.Load(parse.GetValue(inputs), "--inputs", net.Spec, parse.GetValue(random), parse.GetValue(seed), dt, dev, parse.GetValue(allowNonfinite));
            var x2Path = parse.GetValue(inputs2);
            if (x2Path is not null && output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace)
                throw new ArgumentException("--diagonal computes Θ(x_i, x_i) of one input set: leave out --inputs2");
            var x2 = x2Path is null ? null : KernelInputs.Load(x2Path, "--inputs2", net.Spec, 0, 0, dt, dev, parse.GetValue(allowNonfinite));
            double mb = parse.GetValue(budget);
            if (!(mb >= 1)) throw new ArgumentException($"--memory-budget-mb {mb}: give at least 1");

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            try
            {
                long budgetBytes = (long)(mb * (1 << 20));
                var resolved = EmpiricalNtk.Resolve(net, x1, requested, budgetBytes);
                using var loggers = CliLogging.Create(toStandardError: true);
                var options = new NtkOptions(output, resolved, budgetBytes, Progress(), cancel.Token, Devices: workerDevices,
                    Logger: workerDevices is null ? null : loggers.CreateLogger("gpuntk"));
                var path = parse.GetValue(outPath);
                if (path is not null && output is NtkOutput.Full or NtkOutput.Trace)
                {
                    var (shard, source) = sharding.Resolve(parse, path);
                    GpuNtk.Native.HostAllocator.ReturnLargeBlocksToTheSystem(); // memory stays at one tile's working set
                    if (source is not null) Console.Error.WriteLine($"ntk: {source}");
                    options = options with { BlockSize = parse.GetValue(sharding.TileSize) };
                    string parameters = $"ntk {OutputName(output)}; arch {net.Spec}; seed {parse.GetValue(seed)}; implementation {ImplementationName(resolved)}; " +
                                        $"checkpoint {Fingerprint(parse.GetValue(checkpoint))}; " +
                                        $"inputs {ShardOptions.InputsFingerprint(parse.GetValue(inputs), parse.GetValue(random), parse.GetValue(seed))}; " +
                                        $"inputs2 {Fingerprint(x2Path)}";
                    var watchTiles = Stopwatch.StartNew();
                    var tiling = EmpiricalNtk.Tiling(net, x1, x2, options);
                    var layout = new KernelLayout(tiling, output == NtkOutput.Full ? net.Spec.Outputs : null, dt, parameters);
                    using var sink = KernelSinks.CreateDefault().Open(path, layout, shard, CPU);
                    var summary = EmpiricalNtk.ComputeInto(net, x1, x2, sink, options, shard);
                    Console.WriteLine(JsonSerializer.Serialize(new
                    {
                        arch = net.Spec.ToString(), shape = layout.Shape, output = OutputName(output), implementation = ImplementationName(resolved),
                        dtype = dt.ToString().ToLowerInvariant(), device = dev.ToString(), devices = workerDevices?.Select(d => d.ToString()).ToArray(),
                        shard = shard.ToString(), tile_size = tiling.TileSize, tiles = tiling.Tiles.Count, shard_tiles = summary.Computed + summary.Skipped,
                        computed = summary.Computed, skipped = summary.Skipped, seconds = Math.Round(watchTiles.Elapsed.TotalSeconds, 6),
                        peak_rss_mib = PeakMemory.ResidentMiB(), @out = path,
                    }));
                    return 0;
                }
                if (parse.GetValue(sharding.Shard) is not null)
                    throw new ArgumentException(path is null ? "--shard needs --out: the workers fill one shared .npy file"
                        : "--shard splits the tiles of a full or traced kernel; a --diagonal is computed in one process");
                var watch = Stopwatch.StartNew();
                using var theta = EmpiricalNtk.Compute(net, x1, x2, options);
                watch.Stop();
                if (path is not null) NpyFile.Write(path, theta);
                else if (theta.numel() <= 400) Console.WriteLine(theta.cpu().ToString(TorchSharp.TensorStringStyle.Numpy));
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    arch = net.Spec.ToString(), shape = theta.shape, output = OutputName(output),
                    implementation = ImplementationName(resolved), dtype = dt.ToString().ToLowerInvariant(),
                    device = dev.ToString(), devices = workerDevices?.Select(d => d.ToString()).ToArray(), seconds = Math.Round(watch.Elapsed.TotalSeconds, 6), @out = path,
                }));
            }
            finally { Console.CancelKeyPress -= onCancel; }
            return 0;
        }));
        return command;
    }

    /// <summary>A file's MD5 for a kernel file's parameters ("none" without one).</summary>
    private static string Fingerprint(string? path) => path is null ? "none" : $"md5:{FileChecksum.Md5Hex(path)}";

    /// <summary>Block progress on stderr when it is a terminal (keeps stdout to the one JSON line).</summary>
    private static IProgress<double>? Progress()
    {
        if (Console.IsErrorRedirected) return null;
        int last = -1;
        return new SynchronousProgress(f =>
        {
            int pct = (int)(f * 100);
            if (pct == last) return;
            last = pct;
            Console.Error.Write(pct < 100 ? $"\rntk: {pct,3}% of blocks" : "\r                    \r");
        });
    }

    private sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }

    private static NtkOutput ParseOutput(bool full, bool trace, bool diagonal)
    {
        if (full && trace) throw new ArgumentException("--full and --trace exclude each other: pick one");
        if (diagonal) return full ? NtkOutput.DiagonalFull : NtkOutput.DiagonalTrace;
        return full ? NtkOutput.Full : NtkOutput.Trace;
    }

    private static string OutputName(NtkOutput o) => o switch
    {
        NtkOutput.Full => "full",
        NtkOutput.Trace => "trace",
        NtkOutput.DiagonalFull => "diagonal-full",
        _ => "diagonal",
    };

    private static NtkImplementation ParseImplementation(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => NtkImplementation.Auto,
        "reference" or "ref" => NtkImplementation.Reference,
        "jc" or "jacobian" => NtkImplementation.JacobianContraction,
        "vp" or "ntk-vp" => NtkImplementation.VectorProducts,
        "sd" or "structured" => NtkImplementation.Structured,
        _ => throw new ArgumentException($"--implementation {text}: use auto, sd, jc, vp or reference"),
    };

    private static string ImplementationName(NtkImplementation i) => i switch
    {
        NtkImplementation.Structured => "sd",
        NtkImplementation.JacobianContraction => "jc",
        NtkImplementation.VectorProducts => "vp",
        NtkImplementation.Reference => "reference",
        _ => "auto",
    };
}
