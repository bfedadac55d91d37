using System.CommandLine;
using GpuNtk.Data;
using GpuNtk.Kernels.Sharding;

namespace GpuNtk.Cli;

/// <summary>
/// Options of a kernel written tile by tile into <c>--out</c> (<c>ntk</c>, <c>kernel</c>): which shard of the tiles
/// this process computes, and the tile size. A command adds <see cref="All"/> and calls <see cref="Resolve"/>.
/// </summary>
internal sealed class ShardOptions
{
    public Option<string?> Shard { get; } = new("--shard")
    {
        Description = "Compute only this worker's share of the tiles of --out: i/n (0-based i of n workers), or auto to read it from " +
                      "the launcher (mpirun: OMPI_COMM_WORLD_RANK/SIZE; MPICH/Intel MPI: PMI_RANK/SIZE; srun: SLURM_PROCID/NTASKS; " +
                      "sbatch --array: SLURM_ARRAY_TASK_ID/MIN/COUNT; Kubernetes indexed Job: JOB_COMPLETION_INDEX with --shard-count). " +
                      "Workers share nothing but the file system. Omitted: all tiles.",
    };

    public Option<int?> ShardCount { get; } = new("--shard-count")
    {
        Description = "Number of workers, for --shard auto under a Kubernetes indexed Job (its spec.completions); elsewhere optional, and checked.",
    };

    public Option<int?> TileSize { get; } = new("--tile-size")
    {
        Description = "Examples per tile side of --out (default: from the memory budget). Every worker and every rerun of one file must use the same.",
    };

    public IEnumerable<Option> All => [Shard, ShardCount, TileSize];

    /// <summary>The shard this process computes, and a line for stderr saying where it came from (null for all tiles).</summary>
    public (Shard Shard, string? Source) Resolve(ParseResult parse, string? outPath)
    {
        var text = parse.GetValue(Shard);
        int? count = parse.GetValue(ShardCount);
        if (count is < 1) throw new ArgumentException($"--shard-count {count}: must be ≥ 1");
        if (text is null)
        {
            if (count is not null) throw new ArgumentException("--shard-count goes with --shard auto");
            WarnIfLaunched();
            return (Kernels.Sharding.Shard.Single, null);
        }
        if (outPath is null) throw new ArgumentException("--shard needs --out: the workers fill one shared .npy file");
        if (text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            var found = ShardLaunchers.Detect(count);
            return (found.Shard, $"shard {found.Shard} from {found.Launcher}");
        }
        if (count is not null) throw new ArgumentException("--shard-count goes with --shard auto (with --shard i/n, n is the count)");
        try
        {
            var shard = Kernels.Sharding.Shard.Parse(text);
            return (shard, $"shard {shard} (--shard)");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--shard {text}: {e.Message}", e);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--shard {text}: {e.Message}, or auto", e);
        }
    }

    /// <summary>Several copies started by a launcher without --shard would each compute every tile: say so.</summary>
    private static void WarnIfLaunched()
    {
        try
        {
            var found = ShardLaunchers.Detect();
            if (found.Shard.Count > 1)
                Console.Error.WriteLine($"warning: started by {found.Launcher} as one of {found.Shard.Count} workers, but without --shard every " +
                                        "worker computes the whole kernel; add --shard auto to split it");
        }
        catch (ArgumentException)
        {
            // no launcher (or an incomplete one): a plain single-process run
        }
    }

    /// <summary>What identifies an input set in a kernel file's parameters: the file's MD5, or the random draw.</summary>
    public static string InputsFingerprint(string? path, int random, long seed) =>
        path is null ? $"random({random},seed={seed})" : $"md5:{FileChecksum.Md5Hex(path)}";
}
