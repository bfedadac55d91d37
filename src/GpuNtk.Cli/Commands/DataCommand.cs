using System.CommandLine;
using GpuNtk.Cli.Logging;
using GpuNtk.Data;
using Microsoft.Extensions.Logging;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk data cifar10|mnist|fashion-mnist|synthetic</c>: download and verify CIFAR-10, MNIST or Fashion-MNIST, or
/// generate the synthetic set in CIFAR-10's format.
/// </summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Get the training data: download CIFAR-10, MNIST or Fashion-MNIST (verified), or generate the synthetic CIFAR-format set.");
        command.Subcommands.Add(Cifar10());
        command.Subcommands.Add(Idx(IdxDataset.Mnist));
        command.Subcommands.Add(Idx(IdxDataset.FashionMnist));
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
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
            var target = new Cifar10Download(logger).EnsureAsync(parse.GetValue(dir)!, progress: Progress(logger), cancellation: cancel.Token).GetAwaiter().GetResult();
            Console.WriteLine(target);
            return 0;
        }));
        return command;
    }

    private static Command Idx(IdxDataset set)
    {
        var dir = Dir();
        var baseUrl = new Option<string?>("--from") { Description = $"Download from this address instead of {set.BaseUrl} (a mirror; the official MD5s are still required)." };
        var command = new Command(set.Name, $"Download the four official {set.Title} files from {set.BaseUrl} into <dir>/{set.DirectoryName}, " +
                                            "verify their MD5s and check that they read. Files already there with the right MD5 are kept." +
                                            (set.SystemDirectory is null ? "" : $" Training reads {set.SystemDirectory} (Debian's dataset-fashion-mnist) when <dir> lacks them."));
        command.Options.Add(dir);
        command.Options.Add(baseUrl);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            using var loggers = CliLogging.Create();
            var logger = loggers.CreateLogger("gpuntk");
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
            var target = new IdxDownload(logger).EnsureAsync(set, parse.GetValue(dir)!, parse.GetValue(baseUrl), Progress(logger), cancel.Token).GetAwaiter().GetResult();
            Console.WriteLine(target);
            return 0;
        }));
        return command;
    }

    /// <summary>Logs a download's progress every 10 %.</summary>
    private static IProgress<double> Progress(ILogger logger)
    {
        int lastPercent = -1;
        return new Progress<double>(f =>
        {
            int percent = (int)(f * 100);
            if (percent / 10 == lastPercent / 10) return;
            lastPercent = percent;
            logger.LogInformation("downloaded {Percent}%", percent);
        });
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
