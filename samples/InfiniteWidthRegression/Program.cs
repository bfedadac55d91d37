// Infinite-width NTK regression on CIFAR-format data, and the empirical NTK of finite networks converging to the
// analytic one as the width grows. Writes convergence.csv and convergence.png to --out.
using System.Diagnostics;
using System.Globalization;
using GpuNtk.Data;
using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Native;
using GpuNtk.Networks;
using GpuNtk.Samples.InfiniteWidthRegression;
using static TorchSharp.torch;

SampleOptions options;
try { options = SampleOptions.Parse(args); }
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
TorchNative.EnsureLoaded();
var spec = ArchitectureSpec.Parse(options.Arch);
var kernel = AnalyticKernel.FromSpec(spec);
Directory.CreateDirectory(options.Out);
var inv = CultureInfo.InvariantCulture;

// 1. Infinite-width kernel regression.
Dataset loaded;
try
{
    loaded = options.Data.ToLowerInvariant() switch
    {
        "synthetic" => Dataset.Cifar(DataSource.Synthetic, options.DataRoot, options.Train, options.Test),
        "cifar10" => Dataset.Cifar(DataSource.Cifar10, options.DataRoot, options.Train, options.Test),
        _ => Dataset.FromNpy(options.Data, options.Train, options.Test),
    };
}
catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
using var data = loaded;
Console.WriteLine($"data   {data.Description}");
Console.WriteLine($"arch   {spec}");
Console.WriteLine($"kernel {kernel}");
// Targets: one-hot minus 1/classes, so that a zero prediction (the mean network output at initialisation) is neutral.
var targets = nn.functional.one_hot(data.YTrain, data.Classes).to(ScalarType.Float64) - 1.0 / data.Classes;
var watch = Stopwatch.StartNew();
using var train = kernel.Compute(data.XTrain);
using var cross = kernel.Compute(data.XTest, data.XTrain);
Console.WriteLine($"kernels K, Θ: train {train.Ntk!.shape[0]}×{train.Ntk.shape[1]} and test×train in {watch.Elapsed.TotalSeconds:F2} s (float64, {get_num_threads()} threads)");
foreach (var (name, kTrain, kCross) in new[] { ("NTK ", train.Ntk!, cross.Ntk!), ("NNGP", train.Nngp!, cross.Nngp!) })
{
    using var regression = KernelRegression.Fit(kTrain, targets, options.Regularizer);
    using var prediction = regression.PredictMean(kCross);
    double accuracy = prediction.argmax(1).eq(data.YTest).to(ScalarType.Float64).mean().item<double>();
    using var trainPrediction = regression.PredictMean(kTrain);
    double trainAccuracy = trainPrediction.argmax(1).eq(data.YTrain).to(ScalarType.Float64).mean().item<double>();
    Console.WriteLine($"{name} regression (λ = {options.Regularizer.ToString(inv)}·mean diag): test accuracy {accuracy:P1}, train accuracy {trainAccuracy:P1}");
}

// 2. Empirical NTK → analytic NTK as the width grows.
var subset = data.XTrain.narrow(0, 0, options.ConvergenceInputs);
using var exact = kernel.Ntk(subset);
var rows = new List<(long Width, double Mean, double Std, double[] Errors)>();
Console.WriteLine($"\nempirical traced NTK of {options.ConvergenceInputs} inputs vs analytic (relative Frobenius error, {options.Seeds} seeds, float32 networks, one output):");
foreach (long width in options.Widths)
{
    var specW = spec switch
    {
        FcnSpec f => (ArchitectureSpec)(f with { Width = width, Outputs = 1 }),
        CnnSpec c => c with { Channels = width, Outputs = 1 },
        WideResNetSpec w => w with { WidenFactor = width, Outputs = 1 },
        _ => throw new NotSupportedException(spec.Kind),
    };
    var errors = new double[options.Seeds];
    watch.Restart();
    for (int s = 0; s < options.Seeds; s++)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(specW, seed: 1000 + s, ScalarType.Float32);
        var empirical = EmpiricalNtk.Compute(net, subset.to(ScalarType.Float32), null, new NtkOptions(NtkOutput.Trace)).to(ScalarType.Float64);
        errors[s] = (empirical - exact).norm().item<double>() / exact.norm().item<double>();
    }
    double mean = errors.Average(), std = Math.Sqrt(errors.Sum(e => (e - mean) * (e - mean)) / Math.Max(1, errors.Length - 1));
    rows.Add((width, mean, std, errors));
    Console.WriteLine($"  width {width,6}: {mean:F4} ± {std:F4}   ({watch.Elapsed.TotalSeconds:F1} s)");
}

// Least-squares slope of log(error) against log(width); 1/√width fluctuations give −0.5.
var lx = rows.Select(r => Math.Log(r.Width)).ToArray();
var ly = rows.Select(r => Math.Log(r.Mean)).ToArray();
double mx = lx.Average(), my = ly.Average();
double slope = lx.Zip(ly, (a, b) => (a - mx) * (b - my)).Sum() / lx.Sum(a => (a - mx) * (a - mx));
double intercept = my - slope * mx;
Console.WriteLine($"log-log slope {slope:F3} (1/√width would be −0.5)");

var csv = Path.Combine(options.Out, "convergence.csv");
File.WriteAllLines(csv, rows.Select(r => string.Join(",", new[] { r.Width.ToString(inv), r.Mean.ToString("R", inv), r.Std.ToString("R", inv) }
        .Concat(r.Errors.Select(e => e.ToString("R", inv)))))
    .Prepend("width,mean_relative_error,std_relative_error," + string.Join(",", Enumerable.Range(0, options.Seeds).Select(s => $"seed{s}"))));
var png = Path.Combine(options.Out, "convergence.png");
string shortSpec = spec switch
{
    FcnSpec f => $"FCN depth {f.Depth}, {f.Activation.ToName()}, {f.Inputs} inputs",
    CnnSpec c => $"CNN depth {c.Depth}, {c.Activation.ToName()}, {c.ImageSize}×{c.ImageSize}",
    _ => spec.Kind,
};
ConvergencePlot.Save(png, rows.Select(r => ((double)r.Width, r.Mean, r.Std)).ToList(), slope, intercept, shortSpec);
Console.WriteLine($"wrote {csv} and {png}");
return 0;
