using System.Diagnostics;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Bench;

/// <summary>One benchmark row: an architecture, N inputs, an output kind and an implementation.</summary>
internal sealed record BenchCase(string Group, string Arch, long N, NtkOutput Output, NtkImplementation Implementation,
    ScalarType DType = ScalarType.Float32)
{
    public string Label => $"{Group}";
}

/// <summary>A measured row.</summary>
internal sealed record BenchResult(BenchCase Case, long Outputs, long Parameters, double BestSeconds, double MedianSeconds,
    int Repeats, long? PeakBytes, string LoadAverage)
{
    /// <summary>Bytes an explicit Jacobian of the N inputs would take: N·O·P elements.</summary>
    public double ExplicitJacobianBytes => (double)Case.N * Outputs * Parameters * (Case.DType == ScalarType.Float64 ? 8 : 4);
}

internal static class BenchRunner
{
    /// <summary>
    /// Warm-up run, one run under peak-memory measurement, then timed runs until <paramref name="minSeconds"/> have
    /// passed (at least <paramref name="minRepeats"/>, at most 20). Times are wall-clock seconds of EmpiricalNtk.Compute.
    /// </summary>
    public static BenchResult Run(BenchCase c, int minRepeats = 3, double minSeconds = 1.0, long seed = 0)
    {
        using var net = NetworkFactory.Create(c.Arch, seed, c.DType);
        using var g = new Generator((ulong)seed + 1);
        var x = randn([c.N, net.Spec.InputSize], ScalarType.Float64, CPU, generator: g).to(c.DType);
        var options = new NtkOptions(c.Output, c.Implementation);
        void Once()
        {
            using var scope = NewDisposeScope();
            EmpiricalNtk.Compute(net, x, null, options);
        }
        var warm = Stopwatch.StartNew();
        Once();
        double warmSeconds = warm.Elapsed.TotalSeconds;
        long? peak = PeakMemory.Measure(Once);
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
        return new BenchResult(c, net.Spec.Outputs, net.ParameterCount, times[0], times[times.Count / 2], times.Count, peak, LoadAverage());
    }

    /// <summary>The 1-minute load average (other processes compete for the same cores), or n/a.</summary>
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
