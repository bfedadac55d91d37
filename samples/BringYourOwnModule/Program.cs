// Bring your own module: a TorchSharp ResNet written in this sample (SmallResNet.cs), optionally initialised from a
// PyTorch .pt (make_init.py), trained by GpuNtk's engine with the full telemetry — NTK change and spectrum, drift per
// layer, the linearized model's error — on Fashion-MNIST when it is installed (else the synthetic CIFAR-format set),
// on CUDA when present.
//
//   dotnet run --project samples/BringYourOwnModule -c Release -- --steps 50 --out runs/byom [--init small_resnet.pt]
using System.Diagnostics;
using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Samples.BringYourOwnModule;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

var options = SampleOptions.Parse(args);
using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
var logger = loggers.CreateLogger("byom");
var device = cuda.is_available() ? CUDA : CPU;

// Images [N, C, H, W] in memory on the device: Fashion-MNIST (28×28×1) or the synthetic set (32×32×3).
var source = IdxDataset.FashionMnist.SystemDirectory is { } system && IdxDataset.FashionMnist.HasAllFiles(system)
             || IdxDataset.FashionMnist.HasAllFiles(Path.Combine(options.DataRoot, IdxDataset.FashionMnist.DirectoryName))
    ? DataSource.FashionMnist : DataSource.Synthetic;
using var data = DatasetLoader.Load(new DataOptions(source, options.DataRoot, TrainSize: options.TrainSize, TestSize: 1000, Flatten: false),
    outputs: 10, ScalarType.Float32, device, logger);

using var module = new SmallResNet(inChannels: data.Train.Inputs.shape[1]);
module.to(device);
if (options.Init is { } init)
{
    using var state = CheckpointFiles.LoadStateDict(init);
    var (missing, unexpected) = module.load_state_dict(state.ToDictionary(kv => kv.Key, kv => kv.Value.to(device)), strict: true);
    logger.LogInformation("initialised from {Path} ({Count} tensors)", init, state.Count);
}

var config = new TrainConfig
{
    Optimizer = OptimizerKind.Momentum, // LearningRate null: half of η_max, measured from the NTK at the start
    BatchSize = 64,
    Steps = options.Steps,
    LogEvery = (int)Math.Max(1, options.Steps / 5),
    CheckpointEvery = 0,
    ProbeTrain = 64,
    ProbeTest = 64,
    NtkProbe = 32,
    Width = 16, // adds ‖θt−θ0‖/√width
};
var sinks = new ITelemetrySink[] { new LoggerSink(logger), new CsvSink(), new JsonlSink() };
try
{
    var watch = Stopwatch.StartNew();
    var run = Trainer.Create(module, data.Train, data.Test, config, options.Out, sinks, logger,
        new TrainerHooks(Replicate: () => new SmallResNet(data.Train.Inputs.shape[1])), description: $"SmallResNet on {data.Describe()}");
    var summary = run.Run();
    logger.LogInformation("{Status} in {Seconds:0.0} s; telemetry {Share:P0} of training time; metrics in {Csv}",
        summary.Status, watch.Elapsed.TotalSeconds, summary.TelemetryOverhead, Path.Combine(options.Out, "metrics.csv"));
    return summary.Status == TrainingStatus.Completed ? 0 : 1;
}
finally
{
    foreach (var s in sinks) s.Dispose();
}
