// Training-step time of GpuNtk against bench/pytorch_train_step.py: by default FCN 3072-512-512-10 (ReLU, NTK
// parameterization), or any spec (`--arch cnn:depth=1,channels=64,size=32`, `--arch wrn:depth=10,k=1`; the peer rebuilds
// CNN and WRN with torchfunc_ntk.py's exact twin), batch 128, SGD with heavy-ball momentum 0.9, MSE 1/(2·N·O)·‖f−y‖²,
// minibatches drawn on the device from 4096 examples.
//   dotnet run --project bench/GpuNtk.Bench.TrainStep -c Release -- [--arch SPEC] [--threads 2] [--steps 200] [--repeats 5] [--trainer]
// "loop" times the step exactly as the trainer takes it (sampler → index_select → forward → loss → backward → SGD) with
// the public API; --trainer also runs the whole Trainer (synthetic data, telemetry only at the end) and reports its
// own training-time-per-step figure, which excludes telemetry.
using System.Diagnostics;
using System.Globalization;
using GpuNtk.Data;
using GpuNtk.Networks;
using GpuNtk.Native;
using GpuNtk.Training;
using static TorchSharp.torch;

int threads = 2, steps = 200, warmup = 20, repeats = 5, batch = 128;
bool runTrainer = false;
string arch = "fcn:depth=2,width=512,act=relu,param=ntk,in=3072,out=10";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--steps": steps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--repeats": repeats = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--batch": batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--trainer": runTrainer = true; break;
        case "--arch": arch = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
TorchNative.EnsureLoaded();
set_num_threads(threads);
const int n = 4096;
using var net = NetworkFactory.Create(arch, seed: 0);
Console.WriteLine($"TorchSharp/libtorch {__version__}, threads {get_num_threads()}, batch {batch}, {net.Spec}");
using var g = new Generator(0);
using var xAll = randn([n, net.Spec.InputSize], generator: g);
using var labels = randint(0, 10, [n], generator: g);
using var yAll = Targets.Encode(labels, 10, 10, TargetEncoding.Centered, ScalarType.Float32);
// Below η_max of each architecture (FCN ≈ 20, Myrtle CNN ≈ 4.5, WRN-10-1 ≈ 0.57 measured at the start of `gpuntk train`).
double learningRate = net.Spec is FcnSpec ? 0.5 : 0.1;
using var optimizer = new SgdOptimizer(net.parameters(), learningRate: learningRate, momentum: 0.9);
using var sampler = new MinibatchSampler(n, batch, 1, CPU);

void Step()
{
    using var scope = NewDisposeScope();
    var idx = sampler.Next();
    var x = xAll.index_select(0, idx);
    var y = yAll.index_select(0, idx);
    optimizer.ZeroGrad();
    var loss = Losses.Compute(LossKind.Mse, net.forward(x), y, labels.index_select(0, idx));
    loss.backward();
    optimizer.Step();
}

for (int i = 0; i < warmup; i++) Step();
var times = new List<double>();
for (int r = 0; r < repeats; r++)
{
    var watch = Stopwatch.StartNew();
    for (int i = 0; i < steps; i++) Step();
    times.Add(watch.Elapsed.TotalMilliseconds / steps);
}
times.Sort();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loop   : median {times[times.Count / 2]:0.00} ms/step, min {times[0]:0.00} ms/step over {repeats}×{steps} steps"));

if (runTrainer)
{
    var outDir = Path.Combine(Path.GetTempPath(), $"gpuntk-bench-{Environment.ProcessId}");
    var config = new TrainConfig
    {
        Arch = arch,
        Data = new DataOptions(DataSource.Synthetic, Path.Combine(outDir, "data"), TrainSize: n, TestSize: 256),
        LearningRate = learningRate, BatchSize = batch, Steps = steps * repeats, LogEvery = steps * repeats, NtkProbe = 0, CheckpointEvery = 0, Linearize = false,
    };
    try
    {
        var summary = new Trainer(config, CPU, Path.Combine(outDir, "run"), []).Run();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trainer: {summary.MillisecondsPerStep:0.00} ms/step over {summary.Steps} steps (telemetry excluded)"));
    }
    finally
    {
        Directory.Delete(outDir, recursive: true);
    }
}
return 0;
