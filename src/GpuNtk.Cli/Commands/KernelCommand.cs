using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GpuNtk.Data;
using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.MonteCarlo;
using GpuNtk.Kernels.Sharding;
using GpuNtk.Kernels.Sinks;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk kernel</c>: the infinite-width NNGP/NTK of an architecture (<c>--analytic</c>) or its Monte Carlo
/// estimate from finite networks (<c>--monte-carlo SEEDS</c>), between inputs from .npy files.
/// </summary>
internal static class KernelCommand
{
    public static Command Create()
    {
        var arch = CommonOptions.Arch();
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();
        var analytic = new Option<bool>("--analytic") { Description = "Infinite-width kernel in closed form (param=ntk)." };
        var monteCarlo = new Option<int?>("--monte-carlo") { Description = "Instead: mean of the empirical kernels of this many seeds at the spec's width." };
        var kernel = new Option<string>("--kernel") { Description = "ntk or nngp.", DefaultValueFactory = _ => "ntk" };
        var inputs = new Option<string?>("--inputs") { Description = "X1 as a .npy array [N, …]; omitted: --random examples from N(0, 1)." };
        var inputs2 = new Option<string?>("--inputs2") { Description = "X2 as a .npy array; omitted: X2 = X1 (symmetric)." };
        var random = new Option<int>("--random") { Description = "Number of random inputs when --inputs is omitted.", DefaultValueFactory = _ => 4 };
        var memory = new Option<long>("--memory-mb") { Description = "Working memory per block (analytic), MiB.", DefaultValueFactory = _ => 1024 };
        var outPath = new Option<string?>("--out")
        {
            Description = "Write the kernel [N1, N2] to this .npy file, tile by tile, recording each finished tile in OUT.npy.tiles/: " +
                          "a rerun computes only missing tiles; see --shard and gpuntk kernel-status.",
        };
        var sharding = new ShardOptions();

        var command = new Command("kernel", "Infinite-width NNGP/NTK of an architecture (closed form), or its Monte Carlo estimate from finite networks.");
        var allowNonfinite = KernelInputs.AllowNonfinite();
        foreach (var o in new Option[] { allowNonfinite, arch, analytic, monteCarlo, kernel, inputs, inputs2, random, dtype, device, seed, memory, outPath })
            command.Options.Add(o);
        foreach (var o in sharding.All) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            bool isAnalytic = parse.GetValue(analytic);
            int? seeds = parse.GetValue(monteCarlo);
            if (isAnalytic == seeds.HasValue)
                throw new ArgumentException("give exactly one of --analytic and --monte-carlo SEEDS");
            var kind = parse.GetValue(kernel)!.Trim().ToLowerInvariant() switch
            {
                "ntk" => KernelKinds.Ntk,
                "nngp" => KernelKinds.Nngp,
                var other => throw new ArgumentException($"--kernel {other}: use ntk or nngp"),
            };
            var spec = ArchitectureSpec.Parse(parse.GetValue(arch)!);
            var dt = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var dev = CommonOptions.ParseDevice(parse.GetValue(device)!);
            long s = parse.GetValue(seed);
            using var x1 = KernelInputs.Load(parse.GetValue(inputs), "--inputs", spec, parse.GetValue(random), s, dt, dev, parse.GetValue(allowNonfinite));
            var x2Path = parse.GetValue(inputs2);
            using var x2 = x2Path is null ? null : KernelInputs.Load(x2Path, "--inputs2", spec, 0, 0, dt, dev, parse.GetValue(allowNonfinite));

            var path = parse.GetValue(outPath);
            if (path is not null)
            {
                var (shard, source) = sharding.Resolve(parse, path);
                GpuNtk.Native.HostAllocator.ReturnLargeBlocksToTheSystem(); // memory stays at one tile's working set
                if (source is not null) Console.Error.WriteLine($"kernel: {source}");
                long n1 = x1.shape[0], n2 = (x2 ?? x1).shape[0];
                long tileSize = parse.GetValue(sharding.TileSize) is int t ? (t >= 1 ? t : throw new ArgumentException($"--tile-size {t}: must be ≥ 1"))
                    : DefaultTileSize(Math.Max(n1, n2));
                string method = isAnalytic ? $"analytic(memory-mb={parse.GetValue(memory)})" : $"monte-carlo(seeds={seeds},seed={s})";
                string parameters = $"kernel {kind.ToString().ToLowerInvariant()}; {method}; arch {spec}; " +
                                    $"inputs {ShardOptions.InputsFingerprint(parse.GetValue(inputs), parse.GetValue(random), s)}; " +
                                    $"inputs2 {(x2Path is null ? "none" : ShardOptions.InputsFingerprint(x2Path, 0, 0))}";
                var layout = new KernelLayout(new KernelTiling(n1, n2, tileSize, symmetric: x2 is null), null, dt, parameters);
                if (!isAnalytic && seeds < 2) throw new ArgumentException($"--monte-carlo {seeds}: use at least 2 seeds");
                var analyticKernel = isAnalytic ? AnalyticKernel.FromSpec(spec) : null;
                var analyticOptions = new AnalyticKernelOptions(kind, MemoryBudgetBytes: Math.Max(1, parse.GetValue(memory)) << 20);
                Tensor Tile(KernelTile tile)
                {
                    var rows = x1.narrow(0, tile.RowStart, tile.RowLength);
                    // A diagonal tile of a symmetric kernel is itself symmetric: computed as such, with its exact diagonal.
                    var cols = x2 is null && tile.Row == tile.Column ? null : (x2 ?? x1).narrow(0, tile.ColumnStart, tile.ColumnLength);
                    if (analyticKernel is not null)
                    {
                        var r = analyticKernel.Compute(rows, cols, analyticOptions);
                        return (kind == KernelKinds.Ntk ? r.Ntk : r.Nngp)!;
                    }
                    var e = MonteCarloKernel.Estimate(spec, rows, cols, new MonteCarloOptions(seeds!.Value, s, kind));
                    return (kind == KernelKinds.Ntk ? e.Ntk : e.Nngp)!;
                }
                var watchTiles = Stopwatch.StartNew();
                using var sink = KernelSinks.CreateDefault().Open(path, layout, shard, CPU);
                var summary = TileRun.Fill(sink, shard, Tile);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    arch = spec.ToString(), kernel = kind.ToString().ToLowerInvariant(),
                    method = isAnalytic ? "analytic" : $"monte-carlo({seeds} seeds)", shape = layout.Shape,
                    dtype = dt.ToString().ToLowerInvariant(), device = dev.ToString(), threads = get_num_threads(),
                    shard = shard.ToString(), tile_size = tileSize, tiles = layout.Tiling.Tiles.Count, shard_tiles = summary.Computed + summary.Skipped,
                    computed = summary.Computed, skipped = summary.Skipped, seconds = Math.Round(watchTiles.Elapsed.TotalSeconds, 6),
                        peak_rss_mib = PeakMemory.ResidentMiB(), @out = path,
                }));
                return 0;
            }
            if (parse.GetValue(sharding.Shard) is not null) throw new ArgumentException("--shard needs --out: the workers fill one shared .npy file");

            var watch = Stopwatch.StartNew();
            Tensor k;
            if (isAnalytic)
            {
                var options = new AnalyticKernelOptions(kind, MemoryBudgetBytes: Math.Max(1, parse.GetValue(memory)) << 20);
                using var result = AnalyticKernel.FromSpec(spec).Compute(x1, x2, options);
                k = (kind == KernelKinds.Ntk ? result.Ntk : result.Nngp)!.clone();
            }
            else
            {
                if (seeds < 2) throw new ArgumentException($"--monte-carlo {seeds}: use at least 2 seeds");
                using var result = MonteCarloKernel.Estimate(spec, x1, x2, new MonteCarloOptions(seeds!.Value, s, kind));
                k = (kind == KernelKinds.Ntk ? result.Ntk : result.Nngp)!.clone();
            }
            watch.Stop();
            using (k)
            {
                if (k.numel() <= 400) Console.WriteLine(k.cpu().ToString(TorchSharp.TensorStringStyle.Numpy));
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    arch = spec.ToString(), kernel = kind.ToString().ToLowerInvariant(),
                    method = isAnalytic ? "analytic" : $"monte-carlo({seeds} seeds)", shape = k.shape,
                    dtype = dt.ToString().ToLowerInvariant(), device = dev.ToString(),
                    threads = get_num_threads(), seconds = Math.Round(watch.Elapsed.TotalSeconds, 6),
                }));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Tiles of at most 2048 examples (a tile's temporaries stay in cache; see AnalyticKernel), and at least 8 per side
    /// down to 64 examples, so that small, expensive image kernels still split over several workers. Depends on N
    /// only, so every worker agrees.
    /// </summary>
    private static long DefaultTileSize(long n) => Math.Min(n, Math.Min(2048, Math.Max(64, (n + 7) / 8)));
}
