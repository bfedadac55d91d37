using System.Diagnostics;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Native;
using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

TorchNative.EnsureLoaded();
torch.set_num_threads(2);
foreach (var spec in new[] { "fcn:depth=2,width=16,in=12,out=3", "cnn:depth=1,channels=4,size=8,out=3", "wrn:depth=10,size=8,out=3" })
{
    using var net = NetworkFactory.Create(spec, 0, ScalarType.Float64);
    var x = randn(5, net.Spec.InputSize, ScalarType.Float64);
    var x2 = randn(3, net.Spec.InputSize, ScalarType.Float64);
    foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace, NtkOutput.DiagonalFull, NtkOutput.DiagonalTrace })
    {
        var refT = EmpiricalNtk.Compute(net, x, null, new NtkOptions(output, NtkImplementation.Reference));
        var refT2 = output is NtkOutput.Full or NtkOutput.Trace ? EmpiricalNtk.Compute(net, x, x2, new NtkOptions(output, NtkImplementation.Reference)) : null;
        foreach (var impl in new[] { NtkImplementation.Structured, NtkImplementation.JacobianContraction, NtkImplementation.VectorProducts })
        {
            var t = EmpiricalNtk.Compute(net, x, null, new NtkOptions(output, impl, BlockSize: 2));
            double err = (t - refT).abs().max().item<double>() / refT.abs().max().item<double>();
            double err2 = 0;
            if (refT2 is not null)
            {
                var t2 = EmpiricalNtk.Compute(net, x, x2, new NtkOptions(output, impl, BlockSize: 2));
                err2 = (t2 - refT2).abs().max().item<double>() / refT2.abs().max().item<double>();
            }
            Console.WriteLine($"{spec,-40} {output,-14} {impl,-20} sym {err:E2} nonsym {err2:E2}");
        }
    }
}
{
    using var net = NetworkFactory.Create("fcn:depth=2,width=256,in=3072,out=10", 0, ScalarType.Float32);
    var x = randn(16, 3072);
    for (int rep = 0; rep < 3; rep++)
    foreach (var impl in new[] { NtkImplementation.Structured, NtkImplementation.JacobianContraction, NtkImplementation.VectorProducts })
    {
        var sw = Stopwatch.StartNew();
        int reps = impl == NtkImplementation.Structured ? 20 : 1;
        for (int r = 0; r < reps; r++) { using var scope = NewDisposeScope(); EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, impl)); }
        Console.WriteLine($"fcn 16 full {impl}: {sw.Elapsed.TotalMilliseconds / reps:F2} ms");
    }
}
