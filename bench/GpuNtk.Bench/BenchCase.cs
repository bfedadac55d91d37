using System.Diagnostics;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Bench;

/// <summary>One benchmark row: an architecture, N inputs, an output kind and an implementation.</summary>
internal sealed record BenchCase(string Group, string Arch, long N, NtkOutput Output, NtkImplementation Implementation,
    ScalarType DType = ScalarType.Float32)
{
    public string Label => $"{Group}";
}

/// <summary>A measured row.</summary>
internal sealed record BenchResult(BenchCase Case, string Device, long Outputs, long Parameters, double BestSeconds, double MedianSeconds,
    int Repeats, long? PeakBytes, string LoadAverage)
{
    /// <summary>Bytes an explicit Jacobian of the N inputs would take: N·O·P elements.</summary>
    public double ExplicitJacobianBytes => (double)Case.N * Outputs * Parameters * (Case.DType == ScalarType.Float64 ? 8 : 4);
}

internal static class BenchRunner
{
    /// <summary>
    /// Warm-up run, one run under peak-memory measurement, then timed runs until <paramref name="minSeconds"/> have
    /// passed (at least <paramref name="minRepeats"/>, at most 20). Times are wall-clock seconds of EmpiricalNtk.Compute
    /// on <paramref name="device"/>; on CUDA each run ends with torch.cuda.synchronize(), so the clock stops when the
    /// kernels have finished, not when they were queued. Peak memory is the host's RSS: not measured on CUDA.
    /// </summary>
    public static BenchResult Run(BenchCase c, Device device, int minRepeats = 3, double minSeconds = 1.0, long seed = 0)
    {
        using var net = NetworkFactory.Create(c.Arch, seed, c.DType, device);
        using var host = Inputs(net.Spec, c.N, seed, c.DType);
        using var x = host.to(device);
        var options = new NtkOptions(c.Output, c.Implementation);
        bool onCuda = device.type == DeviceType.CUDA;
        void Once()
        {
            using var scope = NewDisposeScope();
            EmpiricalNtk.Compute(net, x, null, options);
            if (onCuda) cuda.synchronize();
        }
        var warm = Stopwatch.StartNew();
        Once();
        double warmSeconds = warm.Elapsed.TotalSeconds;
        long? peak = onCuda ? Unmeasured(Once) : PeakMemory.Measure(Once);
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        // Slow cases (> 5 s) are timed once more only.
        int target = warmSeconds > 5 ? 1 : minRepeats;
        while (times.Count < target || (total.Elapsed.TotalSeconds < minSeconds && times.Count < 20))
        {
            var sw = Stopwatch.StartNew();
            Once();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return new BenchResult(c, DeviceName(device), net.Spec.Outputs, net.ParameterCount, times[0], times[times.Count / 2], times.Count, peak, LoadAverage());
    }

    /// <summary>cpu, cuda or cuda:i: what the rows and the peer's --device say.</summary>
    public static string DeviceName(Device device) =>
        device.type == DeviceType.CUDA ? (device.index >= 0 ? $"cuda:{device.index}" : "cuda") : "cpu";

    /// <summary>The bench's inputs: N standard-normal rows of the spec's flat input size, drawn in float64 on the CPU.</summary>
    public static Tensor Inputs(ArchitectureSpec spec, long n, long seed, ScalarType dtype)
    {
        using var g = new Generator((ulong)seed + 1);
        using var x = randn([n, spec.InputSize], ScalarType.Float64, CPU, generator: g);
        return x.to(dtype);
    }

    private static long? Unmeasured(Action action)
    {
        action();
        return null;
    }

    /// <summary>The 1-minute load average (other processes compete for the same cores), or n/a.</summary>
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
