using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GpuNtk.Data;
using GpuNtk.Experiments.Hierarchy;
using GpuNtk.Plots;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk nth</c>: the Neural Tangent Hierarchy experiment — real networks trained by gradient flow against the
/// hierarchy truncated at p = 2, 3, 4, over time and width; CSV + PNG, fitted width exponents.
/// </summary>
internal static class NthCommand
{
    public static Command Create()
    {
        var defaults = new NthExperimentConfig();
        var arch = new Option<string>("--arch") { Description = "FCN template (width, out and, for images, in are set by the experiment).", DefaultValueFactory = _ => defaults.Architecture };
        var outputs = new Option<int>("--outputs") { Description = "Network outputs O (sphere: targets in·x_a·x_{a+1}; images: 1 = ±1, 2 = (y, −y)); O > 1 uses the full kernels.", DefaultValueFactory = _ => defaults.Outputs };
        var data = new Option<string>("--data") { Description = "sphere, or two image classes of fashion-mnist, mnist, cifar10, synthetic (CIFAR-format stand-in) or auto (CIFAR-10 when present in --data-dir, else synthetic).", DefaultValueFactory = _ => "sphere" };
        var dataDir = new Option<string>("--data-dir") { Description = "The data folder (image data).", DefaultValueFactory = _ => "data" };
        var classes = new Option<string>("--classes") { Description = "The two image classes (names or 0–9): the first gets target −1, the second +1. Default: airplane,automobile (CIFAR), 0,1 otherwise." };
        var imageSize = new Option<int>("--image-size") { Description = "Images are average-pooled to this side (divides 32, or 28 for MNIST-like sets), flattened and scaled to ‖x‖ = √in, in = C·size².", DefaultValueFactory = _ => defaults.ImageSize };
        var widths = new Option<string>("--widths") { Description = "Comma-separated widths.", DefaultValueFactory = _ => string.Join(",", defaults.Widths) };
        var orders = new Option<string>("--orders") { Description = "Truncation levels p among 2,3,4.", DefaultValueFactory = _ => string.Join(",", defaults.Orders) };
        var train = new Option<int>("--train") { Description = "Training points n (on the unit sphere, or images drawn by --seed).", DefaultValueFactory = _ => defaults.TrainPoints };
        var test = new Option<int>("--test") { Description = "Test points (also compared).", DefaultValueFactory = _ => defaults.TestPoints };
        var duration = new Option<double>("--time") { Description = "Last observation time T (η = 1 is the paper's time).", DefaultValueFactory = _ => defaults.Duration };
        var points = new Option<int>("--points") { Description = "Observation times, log-spaced over [T/100, T].", DefaultValueFactory = _ => defaults.TimePoints };
        var seeds = new Option<int>("--seeds") { Description = "Initialisations/datasets per width (errors are averaged).", DefaultValueFactory = _ => defaults.Seeds };
        var lr = new Option<double>("--lr") { Description = "Learning rate η of the gradient flow.", DefaultValueFactory = _ => defaults.LearningRate };
        var memory = new Option<long>("--memory-mib") { Description = "Memory budget of the kernel computation, MiB.", DefaultValueFactory = _ => defaults.MemoryBudgetBytes >> 20 };
        var threads = new Option<int>("--threads") { Description = "libtorch CPU threads (0 = libtorch's default). 1 is faster on a loaded machine.", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out") { Description = "Output folder for CSV and PNG files.", DefaultValueFactory = _ => Path.Combine("runs", "nth") };
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        dtype.DefaultValueFactory = _ => "float64";
        var device = CommonOptions.Device();

        var command = new Command("nth", "Neural Tangent Hierarchy: compare real gradient-flow training with the hierarchy truncated at p = 2, 3, 4 " +
                                         "(the width sweep; `gpuntk nth kernels` computes K⁽²⁾…K⁽⁴⁾ of any network).");
        foreach (var o in new Option[] { arch, outputs, data, dataDir, classes, imageSize, widths, orders, train, test, duration, points, seeds, lr, dtype, device, seed, memory, threads, outDir })
            command.Options.Add(o);
        command.Subcommands.Add(NthKernelsCommand.Create());
        command.SetAction(parse => CliRunner.Run(() =>
        {
            if (parse.GetValue(threads) is > 0 and var t) set_num_threads(t);
            var config = new NthExperimentConfig
            {
                Architecture = parse.GetValue(arch)!,
                Widths = ParseList(parse.GetValue(widths)!, "--widths", long.Parse),
                Orders = ParseList(parse.GetValue(orders)!, "--orders", int.Parse),
                TrainPoints = parse.GetValue(train), TestPoints = parse.GetValue(test),
                Duration = parse.GetValue(duration), TimePoints = parse.GetValue(points),
                Seeds = parse.GetValue(seeds), Seed = parse.GetValue(seed), LearningRate = parse.GetValue(lr),
                DType = CommonOptions.ParseDType(parse.GetValue(dtype)!), Device = CommonOptions.ParseDevice(parse.GetValue(device)!),
                MemoryBudgetBytes = parse.GetValue(memory) << 20,
                Outputs = parse.GetValue(outputs), ImageSize = parse.GetValue(imageSize),
            };
            using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information)
                                                           .AddFilter("GpuNtk.Dynamics", LogLevel.Warning));
            var logger = loggers.CreateLogger("GpuNtk.Experiments.Nth");
            var source = parse.GetValue(data)!;
            if (!source.Trim().Equals("sphere", StringComparison.OrdinalIgnoreCase))
            {
                var root = parse.GetValue(dataDir)!;
                var resolved = DataSourceChoice.Resolve(source, root, logger);
                var classText = parse.GetValue(classes) ?? (resolved is DataSource.Cifar10 or DataSource.Synthetic ? "airplane,automobile" : "0,1");
                config = config with { Images = new DataOptions(resolved, root, DataOptions.ParseClasses(classText, resolved)) };
            }
            config.Validate();
            logger.LogInformation("nth: {Config}, {Threads} thread(s)", config, get_num_threads());
            var watch = Stopwatch.StartNew();
            var result = new NthExperiment(config, logger).Run();
            var dir = parse.GetValue(outDir)!;
            var files = NthCsv.Write(dir, result).Concat(NthPlots.Write(dir, result)).ToArray();
            Print(result);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                config = config.ToString(), seconds = Math.Round(watch.Elapsed.TotalSeconds, 1),
                exponents = result.Exponents.Select(e => new { p = e.Order, metric = e.Metric, exponent = Math.Round(e.Exponent, 3), r2 = Math.Round(e.RSquared, 3) }),
                files,
            }));
            return 0;
        }));
        return command;
    }

    private static void Print(NthExperimentResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine("sup over t of the error, mean over seeds (f: RMS over train ∪ test; Θ: relative Frobenius)");
        Console.WriteLine($"{"width",7} " + string.Join(" ", result.Config.Orders.Select(p => $"{"f p=" + p,11} {"Θ p=" + p,11}")));
        foreach (var row in result.Summary.GroupBy(s => s.Width))
            Console.WriteLine($"{row.Key,7} " + string.Join(" ", row.OrderBy(s => s.Order).Select(s =>
                string.Format(inv, "{0,11:E3} {1,11:E3}", s.MaxOutputError, s.MaxNtkError))));
        Console.WriteLine();
        Console.WriteLine("fitted width exponents (error ∝ width^α; the paper's bound scales like width^(−p/2))");
        foreach (var e in result.Exponents)
            Console.WriteLine(string.Format(inv, "  p = {0}  {1,-6}  α = {2,7:F3}  (R² {3:F3}; −p/2 = {4:F1})", e.Order, e.Metric, e.Exponent, e.RSquared, -e.Order / 2.0));
        Console.WriteLine();
        Console.WriteLine(string.Format(inv, "kernel time {0:F1} s, dynamics time {1:F1} s in total",
            result.Timings.Sum(t => t.KernelSeconds), result.Timings.Sum(t => t.DynamicsSeconds)));
    }

    private static IReadOnlyList<T> ParseList<T>(string text, string option, Func<string, IFormatProvider, T> parse)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option} {text}: expected a comma-separated list of integers");
        }
    }
}
