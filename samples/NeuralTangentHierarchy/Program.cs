// Neural Tangent Hierarchy (Huang & Yau 2019) on a small tanh network: the kernels K2, K3, K4, the hierarchy
// truncated at p = 2, 3, 4 against the real network trained by gradient flow, and the width sweep with fitted
// exponents (CSV + PNG). Usage: dotnet run --project samples/NeuralTangentHierarchy -c Release [-- full] [out-dir]
using System.Diagnostics;
using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Experiments.Hierarchy;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Native;
using GpuNtk.Networks;
using GpuNtk.Plots;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
bool full = args.Contains("full");
string outDir = args.FirstOrDefault(a => a != "full") ?? Path.Combine("runs", "nth-sample");

// 1. One network, step by step with the library API (scalar output, NTK parameterization, float64).
using (var scope = NewDisposeScope())
{
    var dtype = ScalarType.Float64;
    using var net = NetworkFactory.Create("fcn:depth=1,width=256,act=tanh,in=8,out=1", seed: 0, dtype);
    using var g = new Generator(1);
    var x = nn.functional.normalize(randn(40, 8, dtype, generator: g));   // inputs on the unit sphere
    var train = x.narrow(0, 0, 32);
    var y = train.select(1, 0).mul(train.select(1, 1)).mul(8);            // target 8·x₀·x₁
    var f0 = net.forward(x).reshape(-1).detach();                          // probes = [train; test]

    var watch = Stopwatch.StartNew();
    using var kernels = HierarchyKernels.Compute(net, x, train, maxOrder: 4);
    Console.WriteLine($"K2 {Shape(kernels.K2)}, K3 {Shape(kernels.K3!)}, K4 {Shape(kernels.K4!)} in {watch.Elapsed.TotalSeconds:F1} s");

    var hierarchies = new[] { 2, 3, 4 }.Select(p => new TruncatedHierarchy(p, f0, kernels, y)).ToArray();
    using var flow = new NetworkGradientFlow(net, train, y.unsqueeze(1));   // the real network, dθ/dt = −∇L
    Console.WriteLine($"{"t",6} {"loss",9} {"|f_t−f_0|",10} " + string.Join(" ", hierarchies.Select(h => $"{"err f p=" + h.Order,11} {"err Θ p=" + h.Order,11}")));
    var theta0Norm = kernels.K2.norm().item<double>();
    foreach (double t in new[] { 0.5, 2, 5, 10 })
    {
        flow.AdvanceTo(t);
        var f = net.forward(x).reshape(-1).detach();
        var ntk = EmpiricalNtk.Compute(net, x, train, new NtkOptions(NtkOutput.Trace));
        var line = $"{t,6} {flow.Loss(),9:F4} {f.sub(f0).norm().item<double>(),10:E2} ";
        foreach (var h in hierarchies)
        {
            h.AdvanceTo(t);
            line += $"{h.Outputs.sub(f).norm().item<double>() / Math.Sqrt(40),11:E2} {h.Ntk.sub(ntk).norm().item<double>() / theta0Norm,11:E2} ";
        }
        Console.WriteLine(line);
    }
    foreach (var h in hierarchies) h.Dispose();
}

// 2. The width sweep: errors against width per p, fitted exponents, CSV + PNG.
var config = full
    ? new NthExperimentConfig { Widths = [64, 128, 256, 512, 1024, 2048], Seeds = 4, TrainPoints = 48 }
    : new NthExperimentConfig { Widths = [64, 128, 256, 512, 1024], Seeds = 2 };
using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).AddFilter("GpuNtk.Dynamics", LogLevel.Warning));
var result = new NthExperiment(config, loggers.CreateLogger("nth")).Run();
var files = NthCsv.Write(outDir, result).Concat(NthPlots.Write(outDir, result));
Console.WriteLine();
foreach (var e in result.Exponents)
    Console.WriteLine($"p = {e.Order} {e.Metric,-6}: error ∝ width^{e.Exponent:F2} (R² {e.RSquared:F2}); the paper's bound: width^{-e.Order / 2.0:F1}");
Console.WriteLine("wrote " + string.Join(", ", files));

static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
