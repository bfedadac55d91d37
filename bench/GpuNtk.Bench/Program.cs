using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuNtk.Bench;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Native;
using static TorchSharp.torch;

// GpuNtk NTK benchmark: times each implementation against N, width, depth and O (with peak memory), and compares with
// functorch on the same FCN weights and inputs. Writes a Markdown table.
//   dotnet run --project bench/GpuNtk.Bench -c Release -- [--out FILE.md] [--threads 2] [--quick] [--python /usr/bin/python3] [--no-peer]
//   [--only GROUP] (rows whose group starts with GROUP, e.g. headline) [--omp-wait-policy passive|active] (see OpenMpPolicy)
var arguments = new Queue<string>(args);
string? outPath = null, python = "/usr/bin/python3", only = null, waitPolicy = "PASSIVE";
int threads = 2;
bool quick = false, peer = true;
while (arguments.Count > 0)
{
    var a = arguments.Dequeue();
    switch (a)
    {
        case "--out": outPath = arguments.Dequeue(); break;
        case "--threads": threads = int.Parse(arguments.Dequeue(), CultureInfo.InvariantCulture); break;
        case "--quick": quick = true; break;
        case "--python": python = arguments.Dequeue(); break;
        case "--no-peer": peer = false; break;
        case "--only": only = arguments.Dequeue(); break;
        case "--omp-wait-policy": waitPolicy = arguments.Dequeue().ToUpperInvariant(); break;
        default:
            Console.Error.WriteLine($"unknown argument {a}; usage: [--out FILE.md] [--threads 2] [--quick] [--python PATH] [--no-peer] [--only GROUP] [--omp-wait-policy passive|active]");
            return 1;
    }
}

waitPolicy = OpenMpPolicy.Apply(waitPolicy); // before libtorch (and its libgomp) loads
TorchNative.EnsureLoaded();
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
    new("CNN", Cnn, 16, full, sd), new("CNN", Cnn, 16, full, jc), new("CNN", Cnn, 16, full, vp),
    new("CNN", Cnn, 128, tr, sd),
    new("WRN", Wrn, 16, full, sd), new("WRN", Wrn, 16, full, jc), new("WRN", Wrn, 4, full, vp),
    new("WRN", Wrn, 64, tr, sd),
]);

if (only is not null) cases.RemoveAll(c => !c.Group.StartsWith(only, StringComparison.OrdinalIgnoreCase));
var results = new List<BenchResult>();
JsonElement? functorch = null;
string? peerLoad = null;
foreach (var c in cases)
{
    // The functorch peer runs right after GpuNtk's headline rows, so both see the same machine load.
    if (peer && c.Group != "headline" && results.Any(r => r.Case.Group == "headline") && peerLoad is null)
    {
        functorch = FunctorchPeer.Run(python!, Path.Combine(AppContext.BaseDirectory, "functorch_ntk.py"), Fcn, 16, threads, 0, quick, Console.Error);
        peerLoad = BenchRunner.LoadAverage();
    }
    var r = BenchRunner.Run(c);
    results.Add(r);
    Console.Error.WriteLine($"{c.Group,-24} {c.Arch,-40} N={c.N,-5} {c.Output,-6} {c.Implementation,-20} {c.DType,-8} " +
                            $"best {r.BestSeconds:F4} s  median {r.MedianSeconds:F4} s  peak Δ {Mb(r.PeakBytes)} MB");
}

if (peer && peerLoad is null && results.Any(r => r.Case.Group == "headline"))
{
    functorch = FunctorchPeer.Run(python!, Path.Combine(AppContext.BaseDirectory, "functorch_ntk.py"), Fcn, 16, threads, 0, quick, Console.Error);
    peerLoad = BenchRunner.LoadAverage();
}

var md = new StringBuilder();
md.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd} with `dotnet run --project bench/GpuNtk.Bench -c Release{(quick ? " -- --quick" : "")}`: " +
              $"{threads} threads, OMP_WAIT_POLICY={waitPolicy} (GpuNtk and the peer), TorchSharp/libtorch CPU, {Environment.ProcessorCount} cores. " +
              "Warm timings (best and median of ≥ 3 runs or ≥ 1 s; cases over 5 s: one run after the warm-up); " +
              "peak Δ = rise of the process's peak RSS during one run; explicit J = N·O·P·bytes, what materialising the Jacobian would take; " +
              "load = 1-minute load average after the row (other processes on the same cores slow multi-threaded runs).");
md.AppendLine();
md.AppendLine("| group | architecture | N | O | output | implementation | dtype | best (s) | median (s) | peak Δ (MB) | explicit J (MB) | load |");
md.AppendLine("| --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |");
foreach (var r in results)
{
    var c = r.Case;
    md.AppendLine($"| {c.Group} | `{Short(c.Arch)}` | {c.N} | {r.Outputs} | {c.Output.ToString().ToLowerInvariant()} | {Name(c.Implementation)} | " +
                  $"{(c.DType == ScalarType.Float64 ? "f64" : "f32")} | {r.BestSeconds:G4} | {r.MedianSeconds:G4} | {Mb(r.PeakBytes)} | {r.ExplicitJacobianBytes / (1 << 20):F0} | {r.LoadAverage} |");
}
if (functorch is JsonElement f && results.Any(r => r.Case.Group == "headline"))
{
    double ours = results.First(r => r.Case is { Group: "headline", Output: NtkOutput.Full, Implementation: NtkImplementation.Structured }).BestSeconds;
    double oursTrace = results.First(r => r.Case is { Group: "headline", Output: NtkOutput.Trace, Implementation: NtkImplementation.Structured }).BestSeconds;
    double fjc = f.GetProperty("jc_full_s").GetDouble(), fjt = f.GetProperty("jc_trace_s").GetDouble();
    md.AppendLine();
    md.AppendLine($"functorch peer (`bench/functorch_ntk.py`, PyTorch {f.GetProperty("torch").GetString()}, {f.GetProperty("threads").GetInt32()} threads), " +
                  $"same weights and 16 inputs of `{Fcn}`, float32, run right after GpuNtk's headline rows (load {peerLoad}); " +
                  $"functorch's full NTK vs GpuNtk's: max relative difference {f.GetProperty("max_rel_diff_vs_gpuntk").GetDouble():E1}.");
    md.AppendLine();
    md.AppendLine("| NTK (16 inputs) | functorch (s) | GpuNtk structured (s) | speed-up |");
    md.AppendLine("| --- | ---: | ---: | ---: |");
    md.AppendLine($"| full 16×16×10×10, jacrev+vmap contraction | {fjc:G4} | {ours:G4} | {fjc / ours:F0}× |");
    md.AppendLine($"| traced 16×16, jacrev+vmap contraction | {fjt:G4} | {oursTrace:G4} | {fjt / oursTrace:F0}× |");
    if (f.TryGetProperty("vp_full_s", out var fvp))
        md.AppendLine($"| full 16×16×10×10, NTK-vector products | {fvp.GetDouble():G4} | {ours:G4} | {fvp.GetDouble() / ours:F0}× |");
    Console.Error.WriteLine($"functorch: {f}");
    Console.Error.WriteLine($"ratio functorch jc full / GpuNtk sd full = {fjc / ours:F1}");
}
Console.WriteLine(md.ToString());
if (outPath is not null) File.WriteAllText(outPath, md.ToString());
return 0;

static string Mb(long? bytes) => bytes is long b ? (b / (double)(1 << 20)).ToString("F0", CultureInfo.InvariantCulture) : "n/a";
static string Name(NtkImplementation i) => i switch
{
    NtkImplementation.Structured => "sd",
    NtkImplementation.JacobianContraction => "jc",
    NtkImplementation.VectorProducts => "vp",
    NtkImplementation.Reference => "reference",
    _ => i.ToString(),
};
static string Short(string arch) => arch.Replace(",act=relu,param=ntk", "", StringComparison.Ordinal);
