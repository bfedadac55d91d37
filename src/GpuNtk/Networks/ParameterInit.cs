using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>Seeded draws shared by the layers. Values are drawn in float64 on the CPU and copied into the
/// parameter's own dtype and device, so a seed gives the same network on every device and in every dtype.</summary>
internal static class ParameterInit
{
    public static void Fill(Parameter p, Parameterization parameterization, long fanIn, Generator generator)
    {
        using var noGrad = no_grad();
        using var draw = parameterization == Parameterization.Ntk
            ? randn(p.shape, ScalarType.Float64, CPU, generator: generator)
            : UniformSymmetric(p.shape, 1.0 / Math.Sqrt(fanIn), generator);
        p.copy_(draw);
    }

    private static Tensor UniformSymmetric(long[] shape, double bound, Generator generator)
    {
        var u = rand(shape, ScalarType.Float64, CPU, generator: generator);
        return u.mul_(2 * bound).sub_(bound);
    }
}
