using System.CommandLine;
using System.Text.Json;
using GpuNtk.Kernels.Sinks;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk kernel-status OUT.npy</c>: how far a kernel written tile by tile (<c>ntk --out</c>, <c>kernel --out</c>,
/// any number of shards) has come, and with <c>--verify</c> whether every recorded tile still matches its checksum.
/// </summary>
internal static class KernelStatusCommand
{
    /// <summary>Exit code when tiles are missing (the kernel is not finished yet).</summary>
    public const int Incomplete = 3;

    /// <summary>Exit code when a recorded tile fails verification.</summary>
    public const int Corrupt = 4;

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The kernel .npy file (its OUT.npy.tiles/ folder holds the layout and the shard logs)." };
        var verify = new Option<bool>("--verify") { Description = "Reread every finished tile and check its CRC-32 (and, for a symmetric kernel, its mirror image): reads the whole file." };
        var command = new Command("kernel-status",
            $"Report the finished and missing tiles of a kernel written with --out (exit 0: complete, {Incomplete}: tiles missing, {Corrupt}: a tile fails --verify).");
        command.Arguments.Add(file);
        command.Options.Add(verify);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var status = KernelFileStatus.Read(parse.GetValue(file)!);
            IReadOnlyList<int>? bad = parse.GetValue(verify) ? status.Verify() : null;
            var layout = status.Layout;
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                file = status.Path, shape = layout.Shape, dtype = layout.DType.ToString().ToLowerInvariant(),
                tile_size = layout.Tiling.TileSize, symmetric = layout.Tiling.Symmetric, tiles = status.Total, done = status.Done,
                missing = status.Missing.Count, missing_tiles = Ranges(status.Missing), logs = status.Manifest.LinesPerLog,
                conflicting_tiles = Ranges(status.Manifest.Conflicts.ToList()), unreadable_log_lines = status.Manifest.UnreadableLines,
                verified = bad is null ? (bool?)null : bad.Count == 0, bad_tiles = bad is null ? null : Ranges(bad),
                parameters = layout.Parameters,
            }));
            if (bad is { Count: > 0 })
            {
                Console.Error.WriteLine($"error: {bad.Count} tile(s) do not match their checksum ({Ranges(bad)}): the file was changed or a write was lost. " +
                                        $"Delete their lines from the logs in {TileManifest.FolderFor(status.Path)} and rerun the workers to recompute them");
                return Corrupt;
            }
            return status.IsComplete ? 0 : Incomplete;
        }));
        return command;
    }

    /// <summary>"0-4,7,9-12".</summary>
    private static string Ranges(IReadOnlyList<int> sorted)
    {
        var parts = new List<string>();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(i == j ? $"{sorted[i]}" : $"{sorted[i]}-{sorted[j]}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }
}
