// Wide networks evolve as linear models (Lee et al. 2019): train the same FCN at several widths, each side by side
// with its linearization f_lin(x; θ) = f(x; θ0) + J(x; θ0)(θ − θ0), and watch the gap close as the width grows.
//
//   dotnet run --project samples/WideNetworksAreLinear -c Release [widths] [steps]
//   e.g. … -- 64,256,1024,4096 40      (the default)
//
// Data: airplane vs automobile from CIFAR-10 when data/cifar-10-batches-bin exists (`gpuntk data cifar10` downloads
// it), else the same two classes of the synthetic CIFAR-format set (generated in data/synthetic, with a banner saying
// so); 128 training and 128 test images, 3×32×32, through the trainer's loader. The same experiment with every option
// is `gpuntk linearize`.
using System.Globalization;
using GpuNtk.Data;
using GpuNtk.Devices;
using GpuNtk.Dynamics.Linearization;
using GpuNtk.Experiments.Linearization;
using GpuNtk.Native;
using GpuNtk.Plots;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
var config = new LinearizationSweepConfig
{
    Widths = args.Length > 0 ? args[0].Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [64, 256, 1024, 4096],
    Steps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40,
};
var device = DeviceSelector.Parse("auto");
using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
var logger = loggers.CreateLogger("sample");

var source = DataSourceChoice.Resolve("auto", "data", logger);
var options = new DataOptions(source, "data", Classes: DataOptions.ParseClasses("airplane,automobile"), TrainSize: 128, TestSize: 128);
using var data = SweepData.Load(options, imageSize: 32, ScalarType.Float32, device, logger);
logger.LogInformation("{Data}", data.Description);

// The building block, once by hand: a network, its linearization, and the same step applied to both.
using (var net = GpuNtk.Networks.NetworkFactory.Create(config.SpecAt(config.Widths[0], data.Features, data.Outputs), seed: 0, ScalarType.Float32, device))
using (var lin = LinearizedModel.Create(net))
{
    // The linearization's parameters are the deltas θ − θ0, named like the network's; at δ = 0 it is the network.
    logger.LogInformation("linearization parameters: {Names}", string.Join(", ", lin.named_parameters().Select(p => p.name)));
    using var gap = net.forward(data.TestInputs).sub(lin.forward(data.TestInputs)).abs().max();
    logger.LogInformation("max |f − f_lin| at initialization: {Gap:G3}", gap.item<float>());
}

// The sweep: every width trained by full-batch gradient descent at 0.5·η_max, measured every 5 steps.
var result = LinearizationSweep.Run(config, data, ScalarType.Float32, device, logger);
Console.WriteLine();
Console.Write(result.Summary());

var dir = Path.Combine("runs", "wide-networks-are-linear");
Directory.CreateDirectory(dir);
using (var writer = new StreamWriter(Path.Combine(dir, "sweep.csv"))) result.WriteCsv(writer);
LinearizationPlot.Save(result, Path.Combine(dir, "sweep.png"));
Console.WriteLine($"\nwrote {Path.Combine(dir, "sweep.csv")} and {Path.Combine(dir, "sweep.png")}");
