using System.CommandLine;
using System.Globalization;
using GpuNtk.Cli.Logging;
using GpuNtk.Data;
using GpuNtk.Experiments.Linearization;
using GpuNtk.Networks;
using GpuNtk.Plots;
using Microsoft.Extensions.Logging;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk linearize</c>: "wide networks evolve as linear models" (Lee et al. 2019) — a width sweep of one FCN, each
/// trained side by side with its linearization; prints and plots how ‖f_t − f_t^lin‖, ‖Θ_t − Θ_0‖/‖Θ_0‖ and
/// ‖θ_t − θ_0‖/√width shrink with width (fitted log-log slopes), and writes every measurement as CSV.
/// </summary>
internal static class LinearizeCommand
{
    public static Command Create()
    {
        var defaults = new LinearizationSweepConfig();
        var widths = new Option<string>("--widths") { Description = "Hidden widths, comma-separated, increasing.", DefaultValueFactory = _ => string.Join(",", defaults.Widths) };
        var depth = new Option<long>("--depth") { Description = "Hidden layers.", DefaultValueFactory = _ => defaults.Depth };
        var act = new Option<string>("--act") { Description = "relu, erf, tanh, gelu or identity.", DefaultValueFactory = _ => defaults.Activation.ToName() };
        var param = new Option<string>("--param") { Description = "ntk or standard parameterization.", DefaultValueFactory = _ => defaults.Parameterization.ToName() };
        var steps = new Option<int>("--steps") { Description = "Full-batch gradient-descent steps.", DefaultValueFactory = _ => defaults.Steps };
        var evalEvery = new Option<int>("--eval-every") { Description = "Measure every this many steps.", DefaultValueFactory = _ => defaults.EvalEvery };
        var lr = new Option<double?>("--lr") { Description = "Learning rate; omitted: --lr-fraction × η_max (η_max = 2·N·O/λ_max(Θ0), by power iteration)." };
        var lrFraction = new Option<double>("--lr-fraction") { Description = "Fraction of η_max used when --lr is omitted.", DefaultValueFactory = _ => defaults.LearningRateFraction };
        var probe = new Option<int>("--probe") { Description = "Training examples on which Θ_t is compared with Θ_0.", DefaultValueFactory = _ => defaults.ProbeSize };
        var seeds = new Option<int>("--seeds") { Description = "Initializations per width (metrics are averaged before fitting).", DefaultValueFactory = _ => defaults.Seeds };
        var data = new Option<string>("--data") { Description = "cifar10, synthetic (the CIFAR-format stand-in, generated when absent), or auto (CIFAR-10 when <data-dir>/cifar-10-batches-bin exists, else synthetic).", DefaultValueFactory = _ => "auto" };
        var dataDir = new Option<string>("--data-dir") { Description = "The data folder.", DefaultValueFactory = _ => "data" };
        var classes = new Option<string>("--classes") { Description = "The two classes (names or 0–9): the first gets target −1, the second +1.", DefaultValueFactory = _ => "airplane,automobile" };
        var trainSize = new Option<int>("--train-size") { Description = "Training examples drawn (seeded by --seed) from the two classes.", DefaultValueFactory = _ => 128 };
        var testSize = new Option<int>("--test-size") { Description = "Test examples, likewise.", DefaultValueFactory = _ => 128 };
        var imageSize = new Option<int>("--image-size") { Description = "Side of the images fed to the FCN: 32 as stored, or 16/8/4 (average-pooled); in = 3·size².", DefaultValueFactory = _ => 32 };
        var outDir = new Option<string>("--out-dir") { Description = "Folder for linearize.csv and linearize.png.", DefaultValueFactory = _ => Path.Combine("runs", "linearize") };
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();

        var command = new Command("linearize", "Width sweep: do wide networks train like their linearizations? Fits ‖f−f_lin‖, ΔΘ and Δθ against width.");
        foreach (var o in new Option[] { widths, depth, act, param, steps, evalEvery, lr, lrFraction, probe, seeds, data, dataDir, classes, trainSize, testSize, imageSize, outDir, seed, dtype, device })
            command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var config = new LinearizationSweepConfig
            {
                Widths = ParseWidths(parse.GetValue(widths)!),
                Depth = parse.GetValue(depth),
                Activation = ActivationNames.Parse(parse.GetValue(act)!),
                Parameterization = ParameterizationNames.Parse(parse.GetValue(param)!),
                Steps = parse.GetValue(steps),
                EvalEvery = parse.GetValue(evalEvery),
                LearningRate = parse.GetValue(lr),
                LearningRateFraction = parse.GetValue(lrFraction),
                ProbeSize = parse.GetValue(probe),
                Seeds = parse.GetValue(seeds),
                Seed = parse.GetValue(seed),
            };
            config.Validate();
            var dt = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var dev = CommonOptions.ParseDevice(parse.GetValue(device)!);
            using var loggers = CliLogging.Create();
            var logger = loggers.CreateLogger("linearize");
            var root = parse.GetValue(dataDir)!;
            var dataOptions = new DataOptions(DataSourceChoice.Resolve(parse.GetValue(data)!, root, logger), root,
                DataOptions.ParseClasses(parse.GetValue(classes)!), parse.GetValue(trainSize), parse.GetValue(testSize), Seed: config.Seed);
            using var sweepData = SweepData.Load(dataOptions, parse.GetValue(imageSize), dt, dev, logger);
            logger.LogInformation("{Data}; widths {Widths}; device {Device}, {DType}", sweepData.Description, string.Join(",", config.Widths), dev, dt);

            var result = LinearizationSweep.Run(config, sweepData, dt, dev, logger);
            var dir = parse.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            var csv = Path.Combine(dir, "linearize.csv");
            using (var writer = new StreamWriter(csv)) result.WriteCsv(writer);
            var png = Path.Combine(dir, "linearize.png");
            LinearizationPlot.Save(result, png);
            Console.WriteLine();
            Console.Write(result.Summary());
            Console.WriteLine();
            Console.WriteLine($"csv: {csv}");
            Console.WriteLine($"png: {png}");
            return 0;
        }));
        return command;
    }

    private static long[] ParseWidths(string text)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                       .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"--widths {text}: give comma-separated integers, e.g. 64,256,1024,4096");
        }
    }
}
