using System.CommandLine;
using GpuNtk.Cli.Logging;
using GpuNtk.Data;
using Microsoft.Extensions.Logging;

namespace GpuNtk.Cli.Commands;

/// <summary><c>gpuntk data cifar10|synthetic</c>: download and verify CIFAR-10, or generate the synthetic set in its format.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Get the training data: download CIFAR-10 (verified) or generate the synthetic CIFAR-format set.");
        command.Subcommands.Add(Cifar10());
        command.Subcommands.Add(Synthetic());
        return command;
    }

    private static Option<string> Dir() => new("--dir") { Description = "The data folder.", DefaultValueFactory = _ => "data" };

    private static Command Cifar10()
    {
        var dir = Dir();
        var command = new Command("cifar10", $"Download {Cifar10Source.Official.Url} ({Cifar10Source.Official.Size:N0} bytes), verify its MD5 and extract it into <dir>/{Cifar10Format.DirectoryName}. " +
                                             "A tarball already in <dir> is verified and used without downloading.");
        command.Options.Add(dir);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            using var loggers = CliLogging.Create();
            var logger = loggers.CreateLogger("gpuntk");
            int lastPercent = -1;
            var progress = new Progress<double>(f =>
            {
                int percent = (int)(f * 100);
                if (percent / 10 == lastPercent / 10) return;
                lastPercent = percent;
                logger.LogInformation("downloaded {Percent}%", percent);
            });
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
            var target = new Cifar10Download(logger).EnsureAsync(parse.GetValue(dir)!, progress: progress, cancellation: cancel.Token).GetAwaiter().GetResult();
            Console.WriteLine(target);
            return 0;
        }));
        return command;
    }

    private static Command Synthetic()
    {
        var dir = Dir();
        var defaults = new SyntheticCifar10Options();
        var perFile = new Option<int>("--train-per-file") { Description = "Records in each of the five training files.", DefaultValueFactory = _ => defaults.TrainRecordsPerFile };
        var test = new Option<int>("--test") { Description = "Records in test_batch.bin.", DefaultValueFactory = _ => defaults.TestRecords };
        var seed = CommonOptions.Seed();
        var command = new Command("synthetic", $"Generate a learnable synthetic set in the CIFAR-10 binary format into <dir>/{SyntheticCifar10.DirectoryName} (what `train --data synthetic` uses).");
        foreach (var o in new Option[] { dir, perFile, test, seed }) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var target = Path.Combine(parse.GetValue(dir)!, SyntheticCifar10.DirectoryName);
            SyntheticCifar10.Write(target, defaults with { TrainRecordsPerFile = parse.GetValue(perFile), TestRecords = parse.GetValue(test), Seed = parse.GetValue(seed) });
            Console.WriteLine(target);
            return 0;
        }));
        return command;
    }
}
