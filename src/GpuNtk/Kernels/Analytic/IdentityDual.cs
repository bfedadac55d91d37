using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>φ(x) = x: T = k12, Ṫ = 1.</summary>
public sealed class IdentityDual : IDualActivation
{
    public string Name => "identity";

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        var shape = BroadcastShape(k12, k11, k22);
        var t = k12.expand(shape).clone();
        return (t, derivative ? ones_like(t) : null);
    }

    internal static long[] BroadcastShape(params Tensor[] ts) => broadcast_shapes(ts.Select(t => t.shape).ToArray()).ToArray();
}
