using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// ReLU: the first- and zeroth-order arc-cosine kernels (Cho &amp; Saul 2009). With c = k12/√(k11·k22) and θ = arccos c,
/// T = √(k11·k22)·(sin θ + (π − θ)·cos θ)/(2π) and Ṫ = (π − θ)/(2π).
/// </summary>
public sealed class ReluDual : IDualActivation
{
    public string Name => "relu";

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        // Written for few passes over the (large) k12-shaped tensors, the variances being small broadcast vectors in
        // the grid pass: with ĉ = −c, π − θ = arccos ĉ, sin θ = √(1 − ĉ²), T = √k11·√k22·(√(1 − ĉ²) − (π − θ)·ĉ)/(2π).
        using var scope = NewDisposeScope();
        double tiny = TinyFor(k12.dtype);
        // Zero-variance inputs (x = 0, no bias) have k12 = 0: the floor keeps ĉ = 0 there instead of 0/0.
        var minusInvSqrt1 = k11.clamp_min(tiny).rsqrt_().neg_();
        var invSqrt2 = k22.clamp_min(tiny).rsqrt_();
        var cHat = k12.mul(minusInvSqrt1).mul_(invSqrt2).clamp_(-1, 1);
        var piMinusTheta = cHat.acos();
        using var one = ones(1, k12.dtype, k12.device);
        var t = addcmul(one, cHat, cHat, -1).sqrt_().addcmul_(piMinusTheta, cHat, -1)
            .mul_(k11.sqrt().div_(2 * Math.PI)).mul_(k22.sqrt());
        Tensor? tDot = derivative ? piMinusTheta.div_(2 * Math.PI) : null;
        t.MoveToOuterDisposeScope();
        tDot?.MoveToOuterDisposeScope();
        return (t, tDot);
    }

    internal static double TinyFor(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-300 : 1e-30;
}
