using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// ReLU: the first- and zeroth-order arc-cosine kernels (Cho &amp; Saul 2009). With c = k12/√(k11·k22) and θ = arccos c,
/// T = √(k11·k22)·(sin θ + (π − θ)·cos θ)/(2π) and Ṫ = (π − θ)/(2π).
/// <para>
/// Precision: Ṫ has an infinite slope at c = 1 (θ ≈ √(2(1 − c))), so a rounding error ε in c moves Ṫ by ≈ √ε — for
/// two different inputs that is intrinsic, but for an input with itself c is computed as k/√(k·k), exactly 1.
/// </para>
/// </summary>
public sealed class ReluDual : IDualActivation
{
    public string Name => "relu";

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        // Few passes over the (large) k12-shaped tensors: with ĉ = −c, π − θ = arccos ĉ and sin θ = √(1 − ĉ²), so
        // T = √(k11·k22)·(√(1 − ĉ²) − (π − θ)·ĉ)/(2π); the minus sign of ĉ rides on the (negated) norm.
        using var scope = NewDisposeScope();
        double tiny = TinyFor(k12.dtype);
        // Zero-variance inputs (x = 0, no bias) have k12 = 0: the floor keeps ĉ = 0 there instead of 0/0, and T ≈ 0.
        var v1 = k11.clamp_min(tiny);
        var v2 = k22.clamp_min(tiny);
        // −√(k11·k22). When the variances are broadcast vectors (the grid pass) their roots are taken first, one pass
        // fewer; when they are as large as k12 (the pair pass, an input with itself) the product is rooted, since
        // √(k·k) = k exactly, so that ĉ = −1 exactly there.
        bool broadcastVectors = v1.numel() < k12.numel() && v2.numel() < k12.numel();
        var negNorm = broadcastVectors ? v1.sqrt().neg_() * v2.sqrt_() : (v1 * v2).sqrt_().neg_();
        var cHat = k12.div(negNorm).clamp_(-1, 1);
        var piMinusTheta = cHat.acos();
        using var one = ones(1, k12.dtype, k12.device);
        // (√(1 − ĉ²) − (π − θ)·ĉ)·(−norm)/(−2π)
        var t = addcmul(one, cHat, cHat, -1).sqrt_().addcmul_(piMinusTheta, cHat, -1).mul_(negNorm).div_(-2 * Math.PI);
        Tensor? tDot = derivative ? piMinusTheta.div_(2 * Math.PI) : null;
        t.MoveToOuterDisposeScope();
        tDot?.MoveToOuterDisposeScope();
        return (t, tDot);
    }

    /// <summary>A variance floor whose square is still a normal number.</summary>
    internal static double TinyFor(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-150 : 1e-18;
}
