using System.CommandLine;
using GpuNtk.Cli;
using GpuNtk.Cli.Commands;

// gpuntk: one subcommand per file under Commands/; this file only registers them.
var root = new RootCommand("gpuntk — train neural networks while measuring their neural tangent kernel (TorchSharp/libtorch).");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(NtkCommand.Create());
root.Subcommands.Add(CheckpointCommand.Create());
return await CliRunner.InvokeAsync(root, args);
