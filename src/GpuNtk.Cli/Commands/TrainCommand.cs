using System.CommandLine;
using System.Globalization;
using GpuNtk.Cli.Logging;
using GpuNtk.Cli.Telemetry;
using GpuNtk.Data;
using GpuNtk.Networks;
using GpuNtk.Plots;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk train</c>: the main job. Trains a network on CIFAR-10 (or the synthetic CIFAR-format set when CIFAR-10 is
/// absent), logging the NTK's change, parameter drift and losses to the console, metrics.csv/.jsonl, TensorBoard and
/// PNG plots under <c>--out</c>, with checkpoints that <c>--resume</c> continues from. Exit codes: 0 done, 1 bad input,
/// 3 diverged, 130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM (both after checkpointing the current step).
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainConfig();
        var arch = CommonOptions.Arch();
        arch.DefaultValueFactory = _ => TrainConfig.DefaultArch;
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();
        var data = new Option<string>("--data") { Description = "cifar10, fashion-mnist, mnist, synthetic, npy (--inputs/--labels), or auto (CIFAR-10 when data/cifar-10-batches-bin exists, else synthetic).", DefaultValueFactory = _ => "auto" };
        var npy = new NpyDataOptions();
        var dataDir = new Option<string>("--data-dir") { Description = "The data folder.", DefaultValueFactory = _ => "data" };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd, momentum (heavy-ball), nesterov, flow (full-batch gradient flow, ODE solver), adam or adamw (PyTorch's; η_max does not apply).", DefaultValueFactory = _ => defaults.Optimizer.ToName() };
        var lr = new Option<double?>("--lr") { Description = $"Learning rate η (MSE = 1/(2·N·O)·‖f−y‖²). Default: {TrainConfig.DefaultLearningRateFraction}·η_max, η_max measured from the NTK at the start (adam/adamw: {TrainConfig.DefaultAdamLearningRate})." };
        var momentum = new Option<double>("--momentum") { Description = "β for momentum and nesterov.", DefaultValueFactory = _ => defaults.Momentum };
        var batch = new Option<int>("--batch") { Description = "Minibatch size; 0 = full batch.", DefaultValueFactory = _ => defaults.BatchSize };
        var steps = new Option<long>("--steps") { Description = "Optimizer steps (flow: integrate to t = steps; time is counted in steps).", DefaultValueFactory = _ => defaults.Steps };
        var logEvery = new Option<int>("--log-every") { Description = "Telemetry interval in steps.", DefaultValueFactory = _ => defaults.LogEvery };
        var probe = new Option<string>("--probe") { Description = "Telemetry probe: N (N train + N test examples) or NTRAIN,NTEST.", DefaultValueFactory = _ => $"{defaults.ProbeTrain},{defaults.ProbeTest}" };
        var ntkProbe = new Option<int?>("--ntk-probe") { Description = "Training-probe examples on which the NTK is computed (default: min(probe, 256), fewer — at least 32 — for a network whose forward pass over 256 examples would cost more than 2^29 multiply-adds by GpuNtk.Training.ProbeSizes' count, e.g. 32 for wrn:depth=10,k=1 and cnn); 0 turns the NTK telemetry off." };
        var loss = new Option<string>("--loss") { Description = "mse or ce.", DefaultValueFactory = _ => defaults.Loss.ToName() };
        var targets = new Option<string?>("--targets") { Description = "Regression targets: one-hot, centered (0.9/−0.1) or signed (±1). Default: centered for mse, one-hot for ce." };
        var classes = new Option<string?>("--classes") { Description = "Class subset, e.g. 3,5 or cat,dog (labels renumbered in this order; the output count follows unless out= is in --arch)." };
        var trainSize = new Option<int>("--train-size") { Description = $"Training examples drawn from the selected classes; 0 = all (default {defaults.Data.TrainSize}; npy data: all).", DefaultValueFactory = _ => defaults.Data.TrainSize };
        var testSize = new Option<int>("--test-size") { Description = $"Test examples; 0 = all (default {defaults.Data.TestSize}; npy data without test files: the hold-out, one fifth when 0).", DefaultValueFactory = _ => defaults.Data.TestSize };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint interval in steps (always at the end too); 0 = only at the end.", DefaultValueFactory = _ => defaults.CheckpointEvery };
        var flowStep = new Option<double?>("--flow-step") { Description = "Gradient flow: fixed ODE step in time units (default: adaptive Dormand–Prince)." };
        var rtol = new Option<double>("--rtol") { Description = "Gradient flow: relative tolerance of the adaptive solver.", DefaultValueFactory = _ => defaults.FlowRelativeTolerance };
        var atol = new Option<double>("--atol") { Description = "Gradient flow: absolute tolerance of the adaptive solver.", DefaultValueFactory = _ => defaults.FlowAbsoluteTolerance };
        var explode = new Option<double>("--explode") { Description = "Stop as diverged when the loss exceeds this multiple of its initial value.", DefaultValueFactory = _ => defaults.ExplosionFactor };
        var outDir = new Option<string?>("--out") { Description = "Run folder (metrics, checkpoint, plots, TensorBoard); default runs/train-<date>-<time>." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint, with its own configuration (--steps, --log-every, --checkpoint-every, --lr and --explode may change)." };
        var noPlots = new Option<bool>("--no-plots") { Description = "Skip the PNG plots." };
        var noTensorBoard = new Option<bool>("--no-tensorboard") { Description = "Skip the TensorBoard event files." };
        var initFrom = CheckpointOptions.InitFrom();
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay: λ·θ added to the gradient (sgd/momentum/nesterov/adam), decoupled for adamw.", DefaultValueFactory = _ => defaults.WeightDecay };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule: constant, warmup:S, cosine, cosine:warmup=S or step:every=S,factor=F.", DefaultValueFactory = _ => defaults.Schedule };
        var clip = new Option<double?>("--clip") { Description = "Clip the gradient to this total L2 norm before each step." };
        var augment = new Option<bool>("--augment") { Description = "Augment training batches: random crop with 4-pixel padding and horizontal flip (image data)." };
        var noLinearize = new Option<bool>("--no-linearize") { Description = "Do not train the linearized model f_lin = f(θ0) + J(θ0)(θ − θ0) alongside (it costs about 2–3 network steps per step) and drop the linearization-error columns." };

        var command = new Command("train", "Train a network on CIFAR-10 (or the synthetic CIFAR-format set) while logging its NTK's change, parameter drift and losses.");
        foreach (var o in npy.All) command.Options.Add(o);
        foreach (var o in new Option[] { arch, data, dataDir, optimizer, lr, momentum, batch, steps, logEvery, probe, ntkProbe, loss, targets, classes,
                     trainSize, testSize, checkpointEvery, flowStep, rtol, atol, explode, weightDecay, schedule, clip, augment, noLinearize, initFrom, seed, dtype, device, outDir, resume, noPlots, noTensorBoard })
            command.Options.Add(o);

        command.SetAction(parse => CliRunner.Run(() =>
        {
            using var loggers = CliLogging.Create();
            var logger = loggers.CreateLogger("gpuntk");
            bool isResume = parse.GetValue(resume);
            var outPath = parse.GetValue(outDir);
            if (isResume && outPath is null) throw new ArgumentException("--resume needs --out: the run folder to continue");
            outPath ??= Path.Combine("runs", "train-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

            TrainConfig config;
            if (isResume)
            {
                var saved = Trainer.ReadCheckpointConfig(Path.Combine(outPath, Trainer.CheckpointFileName));
                // The checkpoint's own configuration; only these settings may change on resume.
                config = saved with
                {
                    Steps = Explicit(parse, steps) ? parse.GetValue(steps) : saved.Steps,
                    LogEvery = Explicit(parse, logEvery) ? parse.GetValue(logEvery) : saved.LogEvery,
                    CheckpointEvery = Explicit(parse, checkpointEvery) ? parse.GetValue(checkpointEvery) : saved.CheckpointEvery,
                    LearningRate = Explicit(parse, lr) ? parse.GetValue(lr) : saved.LearningRate,
                    ExplosionFactor = Explicit(parse, explode) ? parse.GetValue(explode) : saved.ExplosionFactor,
                };
                logger.LogInformation("resuming {Out} with its saved configuration (steps {Steps})", outPath, config.Steps);
            }
            else
            {
                var lossKind = Losses.Parse(parse.GetValue(loss)!);
                var dataRoot = parse.GetValue(dataDir)!;
                if (File.Exists(dataRoot)) throw new ArgumentException($"--data-dir {dataRoot} is a file: give the folder that holds (or will hold) the data");
                var source = DataSourceChoice.Resolve(parse.GetValue(data)!, dataRoot, logger);
                var classList = parse.GetValue(classes) is { } c ? ParseClasses(c, source) : null;
                var spec = ArchitectureSpec.Parse(parse.GetValue(arch)!);
                // The default architecture takes the data's examples (e.g. 784 inputs for Fashion-MNIST).
                if (!Explicit(parse, arch) && spec is FcnSpec fcn && new DataOptions(source).ExampleShape is { } shape)
                    spec = fcn with { Inputs = shape.Aggregate(1L, (a, b) => a * b) };
                // Follow the class count unless the user fixed out= in the spec.
                bool fixedOutputs = Explicit(parse, arch) && parse.GetValue(arch)!.Contains("out=", StringComparison.OrdinalIgnoreCase);
                if (classList is not null && !fixedOutputs)
                    spec = spec with { Outputs = classList.Length };
                var npyFiles = npy.Read(parse, source);
                // npy data: as many outputs as its classes or targets, unless out= is in --arch.
                if (npyFiles is not null && !fixedOutputs)
                    spec = spec with { Outputs = NpyDataset.Outputs(new DataOptions(DataSource.Npy, Classes: classList, Npy: npyFiles)) };
                var (probeTrain, probeTest) = ParseProbe(parse.GetValue(probe)!);
                config = new TrainConfig
                {
                    Arch = spec.ToString(),
                    // npy data: every example unless sizes are given (the image sets' defaults mean nothing there).
                    Data = new DataOptions(source, dataRoot, classList,
                        source == DataSource.Npy && !Explicit(parse, trainSize) ? 0 : parse.GetValue(trainSize),
                        source == DataSource.Npy && !Explicit(parse, testSize) ? 0 : parse.GetValue(testSize),
                        parse.GetValue(targets) is { } t ? Targets.Parse(t) : lossKind == LossKind.Mse ? TargetEncoding.Centered : TargetEncoding.OneHot,
                        Seed: parse.GetValue(seed), Npy: npyFiles),
                    Optimizer = OptimizerKinds.Parse(parse.GetValue(optimizer)!),
                    Loss = lossKind,
                    LearningRate = parse.GetValue(lr),
                    Momentum = parse.GetValue(momentum),
                    BatchSize = parse.GetValue(batch),
                    Steps = parse.GetValue(steps),
                    LogEvery = parse.GetValue(logEvery),
                    ProbeTrain = probeTrain,
                    ProbeTest = probeTest,
                    NtkProbe = parse.GetValue(ntkProbe) ?? ProbeSizes.DefaultNtkExamples(spec, probeTrain),
                    CheckpointEvery = parse.GetValue(checkpointEvery),
                    Seed = parse.GetValue(seed),
                    DType = CommonOptions.ParseDType(parse.GetValue(dtype)!),
                    FlowStep = parse.GetValue(flowStep),
                    FlowRelativeTolerance = parse.GetValue(rtol),
                    FlowAbsoluteTolerance = parse.GetValue(atol),
                    ExplosionFactor = parse.GetValue(explode),
                    InitFrom = parse.GetValue(initFrom),
                    Linearize = !parse.GetValue(noLinearize),
                    WeightDecay = parse.GetValue(weightDecay),
                    Schedule = parse.GetValue(schedule)!,
                    ClipNorm = parse.GetValue(clip),
                    Augment = parse.GetValue(augment),
                };
            }

            var dev = CommonOptions.ParseDevice(parse.GetValue(device)!);
            var bar = new ProgressBar();
            var plots = new PlotSink();
            var sinks = new List<ITelemetrySink> { bar, new LoggerSink(logger, TrainFlags.Translate), new CsvSink(), new JsonlSink() };
            if (!parse.GetValue(noTensorBoard)) sinks.Add(new TensorBoardSink());
            if (!parse.GetValue(noPlots)) sinks.Add(plots);

            // SIGINT (Ctrl-C) and SIGTERM (what SLURM, Kubernetes and systemd send before a kill): finish the current
            // step, checkpoint, and exit with 128 + the signal's number after one line saying so.
            using var stop = new StopSignals();
            try
            {
                var trainer = TrainFlags.Translating(() => new Trainer(config, dev, outPath, sinks, logger));
                logger.LogInformation("run folder {Out} (device {Device})", outPath, dev);
                var summary = TrainFlags.Translating(() => trainer.Run(isResume, bar, stop.Token));
                if (plots.Written.Count > 0) logger.LogInformation("plots: {Plots}", string.Join(", ", plots.Written.Select(Path.GetFileName)));
                logger.LogInformation("metrics: {Csv}, {Jsonl}{Checkpoint}", Path.Combine(outPath, "metrics.csv"), Path.Combine(outPath, Trainer.MetricsJsonlFileName),
                    File.Exists(trainer.CheckpointPath) ? "; checkpoint: " + trainer.CheckpointPath : "");
                return summary.Status switch
                {
                    TrainingStatus.Completed => 0,
                    TrainingStatus.Diverged => 3,
                    _ => stop.ExitCode,
                };
            }
            finally
            {
                foreach (var s in sinks) s.Dispose();
            }
        }));
        return command;
    }

    private static int[] ParseClasses(string text, DataSource source)
    {
        try { return DataOptions.ParseClasses(text, source); }
        catch (ArgumentException e) { throw new ArgumentException("--" + e.Message, e); }
    }

    private static bool Explicit<T>(ParseResult parse, Option<T> option) => parse.GetResult(option) is { Implicit: false };

    private static (int Train, int Test) ParseProbe(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
        {
            int train = int.Parse(parts[0], CultureInfo.InvariantCulture);
            return (train, parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : train);
        }
        throw new ArgumentException($"--probe {text}: use N or NTRAIN,NTEST");
    }
}
