using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuNtk.Bench;
using GpuNtk.Devices;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Native;
using TorchSharp;
using static TorchSharp.torch;

// GpuNtk NTK benchmark: times each implementation against N, width, depth and O (with peak memory), and compares with
// PyTorch torch.func (bench/torchfunc_ntk.py; functorch on PyTorch 1.13) on the same weights and inputs for the FCN
// headline, the Myrtle CNN and the WideResNet, on the same device. Writes a Markdown table.
//   dotnet run --project bench/GpuNtk.Bench -c Release -- [--out FILE.md] [--threads 2] [--quick] [--python /usr/bin/python3] [--no-peer]
//   [--only GROUP[,GROUP…]] (rows whose group starts with one of them, e.g. headline,WRN) [--device cpu|cuda|cuda:i|auto]
//   [--omp-wait-policy passive|active] (see OpenMpPolicy)
const string Usage = "usage: [--out FILE.md] [--threads 2] [--quick] [--python PATH] [--no-peer] [--only GROUP[,GROUP…]] " +
                     "[--device cpu|cuda|cuda:i|auto] [--omp-wait-policy passive|active]";
var arguments = new Queue<string>(args);
string? outPath = null, python = "/usr/bin/python3", waitPolicy = "PASSIVE";
string deviceName = "cpu";
string[]? only = null;
int threads = 2;
bool quick = false, peer = true;
while (arguments.Count > 0)
{
    var a = arguments.Dequeue();
    if (a is "--out" or "--threads" or "--python" or "--only" or "--omp-wait-policy" or "--device" && arguments.Count == 0)
    {
        Console.Error.WriteLine($"{a} needs a value; {Usage}");
        return 1;
    }
    switch (a)
    {
        case "--out": outPath = arguments.Dequeue(); break;
        case "--threads": threads = int.Parse(arguments.Dequeue(), CultureInfo.InvariantCulture); break;
        case "--quick": quick = true; break;
        case "--python": python = arguments.Dequeue(); break;
        case "--no-peer": peer = false; break;
        case "--only": only = arguments.Dequeue().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
        case "--omp-wait-policy": waitPolicy = arguments.Dequeue().ToUpperInvariant(); break;
        case "--device": deviceName = arguments.Dequeue(); break;
        default:
            Console.Error.WriteLine($"unknown argument {a}; {Usage}");
            return 1;
    }
}

waitPolicy = OpenMpPolicy.Apply(waitPolicy); // before libtorch (and its libgomp) loads
TorchNative.EnsureLoaded();
if (TorchNative.PreloadWarning is { } preloadWarning) Console.Error.WriteLine($"warning: {preloadWarning}");
Device device;
try { device = DeviceSelector.Parse(deviceName); }
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
string deviceLabel = BenchRunner.DeviceName(device);
set_num_threads(threads);
const string Fcn = "fcn:depth=2,width=256,act=relu,param=ntk,in=3072,out=10";
var sd = NtkImplementation.Structured;
var jc = NtkImplementation.JacobianContraction;
var vp = NtkImplementation.VectorProducts;
var rf = NtkImplementation.Reference;
var full = NtkOutput.Full;
var tr = NtkOutput.Trace;

var cases = new List<BenchCase>
{
    // The headline: FCN 3072-256-256-10, 16 inputs, full 16×16×10×10 NTK.
    new("headline", Fcn, 16, full, sd), new("headline", Fcn, 16, tr, sd), new("headline", Fcn, 16, full, jc),
    new("headline", Fcn, 16, tr, jc), new("headline", Fcn, 16, full, vp), new("headline", Fcn, 16, full, rf),
};
long[] ns = quick ? [16, 256, 4096] : [16, 64, 256, 1024, 4096];
foreach (var n in ns) cases.Add(new("N (traced)", Fcn, n, tr, sd));
foreach (var n in ns.Where(n => n <= 256)) cases.Add(new("N (traced)", Fcn, n, tr, jc));
cases.Add(new("N (traced)", Fcn, 64, tr, vp));
cases.Add(new("N (traced)", Fcn, 4096, tr, sd, ScalarType.Float64));
foreach (var n in ns.Where(n => n <= 1024)) cases.Add(new("N (full)", Fcn, n, full, sd));
foreach (var w in quick ? new long[] { 64, 1024 } : [64, 256, 1024, 4096])
    cases.Add(new("width (N=256, traced)", $"fcn:depth=2,width={w},in=3072,out=10", 256, tr, sd));
cases.Add(new("width (N=256, traced)", "fcn:depth=2,width=64,in=3072,out=10", 256, tr, jc));
foreach (var d in quick ? new long[] { 1, 8 } : [1, 2, 4, 8])
    cases.Add(new("depth (N=256, traced)", $"fcn:depth={d},width=256,in=3072,out=10", 256, tr, sd));
foreach (var o in new long[] { 1, 10, 100 })
{
    cases.Add(new("outputs (N=64, full)", $"fcn:depth=2,width=256,in=3072,out={o}", 64, full, sd));
    cases.Add(new("outputs (N=256, traced)", $"fcn:depth=2,width=256,in=3072,out={o}", 256, tr, sd));
}
const string Cnn = "cnn:depth=1,channels=16,size=16,out=10";
const string Wrn = "wrn:depth=10,k=1,size=16,out=10";
cases.AddRange([
    new("CNN", Cnn, 16, full, sd), new("CNN", Cnn, 16, tr, sd), new("CNN", Cnn, 16, full, jc), new("CNN", Cnn, 16, full, vp),
    new("CNN", Cnn, 128, tr, sd),
    new("WRN", Wrn, 16, full, sd), new("WRN", Wrn, 16, tr, sd), new("WRN", Wrn, 16, full, jc), new("WRN", Wrn, 4, full, vp),
    new("WRN", Wrn, 64, tr, sd),
]);
// Realistic CIFAR-size rows: the Myrtle CNN (64 channels) and WRN-16-4 on 32×32 images.
const string Myrtle32 = "cnn:depth=1,channels=64,size=32,out=10";
const string Wrn16x4 = "wrn:depth=16,k=4,size=32,out=10";
foreach (var (group, arch, n) in new[] { ("Myrtle32 N=16", Myrtle32, 16L), ("Myrtle32 N=64", Myrtle32, 64L), ("WRN-16-4 N=16", Wrn16x4, 16L) })
    cases.AddRange([new(group, arch, n, full, sd), new(group, arch, n, tr, sd), new(group, arch, n, full, jc), new(group, arch, n, tr, jc)]);
// The groups compared with the torch.func peer, on the same network, inputs and device as their GpuNtk rows; the
// realistic ones without the peer's NTK-vector products (minutes per run there).
var peerCases = new Dictionary<string, (string Arch, long N, bool SkipVectorProducts)>
{
    ["headline"] = (Fcn, 16, false), ["CNN"] = (Cnn, 16, false), ["WRN"] = (Wrn, 16, false),
    ["Myrtle32 N=16"] = (Myrtle32, 16, true), ["Myrtle32 N=64"] = (Myrtle32, 64, true), ["WRN-16-4 N=16"] = (Wrn16x4, 16, true),
};

if (only is not null) cases.RemoveAll(c => !only.Any(o => c.Group.StartsWith(o, StringComparison.OrdinalIgnoreCase)));
var results = new List<BenchResult>();
var peerSettings = new PeerSettings(python!, Path.Combine(AppContext.BaseDirectory, "torchfunc_ntk.py"), threads, deviceLabel, quick);
var peers = new List<PeerRun>();
void RunPeer(string group)
{
    // Right after GpuNtk's rows of the group, so both see the same machine load.
    if (!peer || !peerCases.TryGetValue(group, out var pc)) return;
    var settings = pc.SkipVectorProducts ? peerSettings with { SkipVectorProducts = true } : peerSettings;
    if (TorchFuncPeer.Run(settings, pc.Arch, pc.N, 0, device, Console.Error) is JsonElement json)
    {
        peers.Add(new PeerRun(group, pc.Arch, pc.N, json, BenchRunner.LoadAverage()));
        Console.Error.WriteLine($"peer {group}: {json}");
    }
}
string? previousGroup = null;
foreach (var c in cases)
{
    if (previousGroup is not null && c.Group != previousGroup) RunPeer(previousGroup);
    previousGroup = c.Group;
    var r = BenchRunner.Run(c, device);
    results.Add(r);
    Console.Error.WriteLine($"{c.Group,-24} {c.Arch,-40} N={c.N,-5} {c.Output,-6} {c.Implementation,-20} {c.DType,-8} {deviceLabel,-6} " +
                            $"best {r.BestSeconds:F4} s  median {r.MedianSeconds:F4} s  peak Δ {BenchFormat.Mb(r.PeakBytes)} MB");
}
if (previousGroup is not null) RunPeer(previousGroup);

var md = new StringBuilder();
string where = device.type == DeviceType.CUDA
    ? $"GpuNtk on {deviceLabel} ({peers.Select(p => p.Json.GetProperty("device_name").GetString()).FirstOrDefault() ?? "CUDA device"}, TF32 off; " +
      "every timed run ends with torch.cuda.synchronize(); peak Δ is host RSS, not measured on CUDA)"
    : $"TorchSharp/libtorch CPU, {Environment.ProcessorCount} cores";
md.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd} with `GpuNtk.Bench {string.Join(' ', args)}` (Release): " +
              $"{threads} threads, OMP_WAIT_POLICY={waitPolicy} (GpuNtk and the peer), {where}. " +
              "Warm timings (best and median of ≥ 3 runs or ≥ 1 s; cases over 5 s: one run after the warm-up); " +
              "peak Δ = rise of the process's peak RSS during one run; explicit J = N·O·P·bytes, what materialising the Jacobian would take; " +
              "load = 1-minute load average after the row (other processes on the same cores slow multi-threaded runs).");
md.AppendLine();
md.AppendLine("| group | architecture | N | O | output | implementation | dtype | device | best (s) | median (s) | peak Δ (MB) | explicit J (MB) | load |");
md.AppendLine("| --- | --- | ---: | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
foreach (var r in results)
{
    var c = r.Case;
    md.AppendLine($"| {c.Group} | `{BenchFormat.Short(c.Arch)}` | {c.N} | {r.Outputs} | {c.Output.ToString().ToLowerInvariant()} | {BenchFormat.Name(c.Implementation)} | " +
                  $"{(c.DType == ScalarType.Float64 ? "f64" : "f32")} | {r.Device} | {r.BestSeconds:G4} | {r.MedianSeconds:G4} | {BenchFormat.Mb(r.PeakBytes)} | {r.ExplicitJacobianBytes / (1 << 20):F0} | {r.LoadAverage} |");
}
if (peers.Count > 0) md.Append(PeerTable.Markdown(peers, results));
Console.WriteLine(md.ToString());
if (outPath is not null) File.WriteAllText(outPath, md.ToString());
return 0;
