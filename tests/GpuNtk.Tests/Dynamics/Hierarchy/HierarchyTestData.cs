using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics.Hierarchy;

/// <summary>Small networks and inputs shared by the hierarchy tests (float64 unless stated).</summary>
internal static class HierarchyTestData
{
    /// <summary><paramref name="count"/> points on the unit sphere in ℝ^<paramref name="dim"/>.</summary>
    public static Tensor Sphere(long count, long dim, long seed, ScalarType dtype = ScalarType.Float64)
    {
        using var g = new Generator((ulong)seed);
        using var x = randn(count, dim, ScalarType.Float64, generator: g);
        return nn.functional.normalize(x).to(dtype);
    }

    /// <summary>The traced empirical NTK Θ(A, T) at parameters θ (restored afterwards).</summary>
    public static Tensor NtkAt(Network net, ParameterVector layout, Tensor theta, Tensor probe, Tensor train)
    {
        using var saved = layout.Flatten();
        layout.Assign(theta);
        var k = EmpiricalNtk.Compute(net, probe, train, new NtkOptions(NtkOutput.Trace));
        layout.Assign(saved);
        return k;
    }

    public static double RelativeError(Tensor actual, Tensor expected) =>
        actual.sub(expected).norm().item<double>() / expected.norm().item<double>();
}
