using System.CommandLine;
using System.Text.Json;
using GpuNtk.Kernels.Sinks;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk kernel-assemble OUT.npy PART.npy…</c>: merges kernel files that workers wrote separately (one per shard,
/// for file systems without coherent concurrent writes to one file) into one, checking every tile's checksum.
/// </summary>
internal static class KernelAssembleCommand
{
    public static Command Create()
    {
        var output = new Argument<string>("out") { Description = "The kernel file to fill (created if absent, resumed if not)." };
        var parts = new Argument<string[]>("parts") { Description = "Kernel files of the same run written by separate workers (--out theta.$i.npy --shard $i/$n).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("kernel-assemble",
            $"Copy every recorded tile of PARTS into OUT, checksum-verified (exit 0: OUT complete, {KernelStatusCommand.Incomplete}: tiles still missing).");
        command.Arguments.Add(output);
        command.Arguments.Add(parts);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var path = parse.GetValue(output)!;
            var summary = KernelFileAssembly.Assemble(path, parse.GetValue(parts)!);
            Console.WriteLine(JsonSerializer.Serialize(new { @out = path, copied = summary.Copied, already_there = summary.AlreadyThere, missing = summary.Missing }));
            return summary.Missing == 0 ? 0 : KernelStatusCommand.Incomplete;
        }));
        return command;
    }
}
