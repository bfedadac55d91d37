// Times K3 (or K2/K4) of the neural tangent hierarchy and optionally exports everything a PyTorch check needs.
//   dotnet run --project bench/HierarchyKernels -c Release -- [--arch fcn:depth=2,width=512,act=tanh,in=16,out=1]
//       [--probes 64] [--train 64] [--order 3] [--dtype float32|float64] [--method auto|structured|rows|looped]
//       [--threads 0] [--repeat 3] [--export dir]
// Then: /usr/bin/python3 bench/HierarchyKernels/k3_functorch.py dir   (compares with torch.func/functorch jvp of Θ)
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GpuNtk.Data;
using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Native;
using GpuNtk.Networks;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var arch = Arg("--arch", "fcn:depth=2,width=512,act=tanh,in=16,out=1");
int probes = int.Parse(Arg("--probes", "64"), CultureInfo.InvariantCulture);
int train = int.Parse(Arg("--train", "64"), CultureInfo.InvariantCulture);
int order = int.Parse(Arg("--order", "3"), CultureInfo.InvariantCulture);
int repeat = int.Parse(Arg("--repeat", "3"), CultureInfo.InvariantCulture);
int threads = int.Parse(Arg("--threads", "0"), CultureInfo.InvariantCulture);
var dtype = Arg("--dtype", "float32") == "float64" ? ScalarType.Float64 : ScalarType.Float32;
var method = Arg("--method", "auto") switch
{
    "structured" => HierarchyKernelMethod.Structured,
    "rows" => HierarchyKernelMethod.ParameterRows,
    "looped" => HierarchyKernelMethod.Looped,
    _ => HierarchyKernelMethod.Auto,
};
string? export = Arg("--export", "") is { Length: > 0 } e ? e : null;
if (threads > 0) set_num_threads(threads);

using var net = NetworkFactory.Create(arch, seed: 0, dtype);
var spec = (FcnSpec)net.Spec;
using var g = new Generator(1);
var x = nn.functional.normalize(randn(probes + train, spec.Inputs, ScalarType.Float64, generator: g)).to(dtype);
var xa = x.narrow(0, 0, probes);
var xt = x.narrow(0, probes, train);
var options = new HierarchyKernelOptions(method);
HierarchyKernels.Compute(net, xa.narrow(0, 0, 2), xt.narrow(0, 0, 2), order, options).Dispose();   // warm-up

var seconds = new List<double>();
Tensor? k = null;
for (int r = 0; r < repeat; r++)
{
    k?.Dispose();
    var watch = Stopwatch.StartNew();
    using var set = HierarchyKernels.Compute(net, xa, xt, order, options);
    seconds.Add(watch.Elapsed.TotalSeconds);
    k = set.Order(order).clone();
}
if (export is not null)
{
    Directory.CreateDirectory(export);
    NpyFile.Write(Path.Combine(export, "probe.npy"), xa);
    NpyFile.Write(Path.Combine(export, "train.npy"), xt);
    NpyFile.Write(Path.Combine(export, $"k{order}.npy"), k!);
    var layers = net.ParameterizedLayers.Cast<DenseLayer>().ToArray();
    for (int i = 0; i < layers.Length; i++)
    {
        NpyFile.Write(Path.Combine(export, $"w{i}.npy"), layers[i].weight.detach());
        NpyFile.Write(Path.Combine(export, $"b{i}.npy"), layers[i].bias.detach());
    }
    File.WriteAllText(Path.Combine(export, "network.json"), JsonSerializer.Serialize(new
    {
        activation = spec.Activation.ToName(), order,
        weight_multipliers = layers.Select(l => l.WeightMultiplier), bias_multipliers = layers.Select(l => l.BiasMultiplier),
    }));
}
Console.WriteLine(JsonSerializer.Serialize(new
{
    arch = net.Spec.ToString(), parameters = net.ParameterCount, probes, train, order, dtype = dtype.ToString().ToLowerInvariant(),
    method = method.ToString(), threads = get_num_threads(), shape = k!.shape,
    seconds = seconds.Select(s => Math.Round(s, 3)), best_seconds = Math.Round(seconds.Min(), 3),
}));
