using System.CommandLine;
using GpuNtk.Cli;
using GpuNtk.Cli.Commands;

// gpuntk: one subcommand per file under Commands/; this file only registers them.
var root = new RootCommand("gpuntk — train neural networks while measuring their neural tangent kernel (TorchSharp/libtorch).");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(NtkCommand.Create());
root.Subcommands.Add(CheckpointCommand.Create());
root.Subcommands.Add(KernelCommand.Create());
root.Subcommands.Add(KernelStatusCommand.Create());
root.Subcommands.Add(NthCommand.Create());
root.Subcommands.Add(LinearizeCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(DataCommand.Create());
return await CliRunner.InvokeAsync(root, args);
