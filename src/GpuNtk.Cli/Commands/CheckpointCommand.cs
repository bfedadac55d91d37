using System.CommandLine;
using System.Globalization;
using GpuNtk.Checkpoints;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk checkpoint inspect|convert</c>: list what a PyTorch (<c>torch.save</c>) or safetensors file holds, and
/// convert a state_dict between the two formats.
/// </summary>
internal static class CheckpointCommand
{
    public static Command Create()
    {
        var command = new Command("checkpoint", "Inspect and convert PyTorch (.pt/.pth, torch.save) and safetensors checkpoints.");
        command.Subcommands.Add(Inspect());
        command.Subcommands.Add(Convert());
        return command;
    }

    private static Command Inspect()
    {
        var file = new Argument<string>("file") { Description = "A .pt/.pth (torch.save, PyTorch ≥ 1.6) or .safetensors file." };
        var command = new Command("inspect", "List every tensor (name, dtype, shape, bytes) and the other values a checkpoint holds.");
        command.Arguments.Add(file);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var summary = CheckpointFiles.Inspect(parse.GetValue(file)!);
            Console.WriteLine($"file    {summary.Path}");
            Console.WriteLine($"format  {FormatName(summary.Format)}");
            if (summary.StateDictPath is { } at)
                Console.WriteLine($"weights {(at.Length == 0 ? "the whole file is a state_dict" : $"state_dict under '{at}'")}");
            int width = Math.Max(4, summary.Tensors.Select(t => t.Name.Length).DefaultIfEmpty(0).Max());
            Console.WriteLine();
            Console.WriteLine($"{"name".PadRight(width)}  {"dtype",-8}  {"shape",-18}  {"bytes",12}");
            foreach (var t in summary.Tensors)
                Console.WriteLine($"{t.Name.PadRight(width)}  {t.DType,-8}  {"[" + string.Join(", ", t.Shape) + "]",-18}  {t.Bytes,12:N0}");
            Console.WriteLine($"{summary.Tensors.Count} tensors, {summary.TotalBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes");
            if (summary.Values.Count > 0)
            {
                Console.WriteLine();
                Console.WriteLine("other values:");
                foreach (var (name, value) in summary.Values) Console.WriteLine($"  {name} = {value}");
            }
            if (summary.Metadata.Count > 0)
            {
                Console.WriteLine();
                Console.WriteLine("metadata:");
                foreach (var (key, value) in summary.Metadata) Console.WriteLine($"  {key} = {value}");
            }
            return 0;
        }));
        return command;
    }

    private static Command Convert()
    {
        var input = new Argument<string>("input") { Description = "The file to read: .pt/.pth (torch.save) or .safetensors." };
        var output = new Argument<string>("output") { Description = "The file to write; its extension (.safetensors, .pt, .pth) picks the format." };
        var command = new Command("convert",
            "Write the state_dict of <input> to <output> in the format its extension names (.pt/.pth ↔ .safetensors). " +
            "The .pt files written load in Python with torch.load(path, weights_only=True).");
        command.Arguments.Add(input);
        command.Arguments.Add(output);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var result = CheckpointFiles.Convert(parse.GetValue(input)!, parse.GetValue(output)!);
            string from = string.IsNullOrEmpty(result.StateDictPath) ? "" : $" (state_dict under '{result.StateDictPath}')";
            Console.WriteLine($"wrote {result.TensorCount} tensors from {result.Input}{from} to {result.Output}");
            if (result.Skipped.Count > 0)
                Console.WriteLine($"not carried over (not weights): {string.Join(", ", result.Skipped)}");
            return 0;
        }));
        return command;
    }

    private static string FormatName(CheckpointFormat format) => format switch
    {
        CheckpointFormat.TorchZip => "PyTorch torch.save zip",
        CheckpointFormat.SafeTensors => "safetensors",
        _ => format.ToString(),
    };
}
