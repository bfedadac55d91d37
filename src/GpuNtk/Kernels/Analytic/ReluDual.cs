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
        using var scope = NewDisposeScope();
        // Zero-variance inputs (x = 0, no bias) have T = 0; the floor keeps c finite there.
        var norm = (k11 * k22).sqrt_();
        var c = k12.div(norm.clamp_min(TinyFor(k12.dtype))).clamp_(-1, 1);
        var piMinusTheta = c.acos().neg_().add_(Math.PI);
        // sin θ = √(1 − c²), more accurate than sin(acos c) near c = ±1.
        var t = c.square().neg_().add_(1).clamp_min_(0).sqrt_().addcmul_(piMinusTheta, c, 1).mul_(norm).div_(2 * Math.PI);
        Tensor? tDot = derivative ? piMinusTheta.div_(2 * Math.PI) : null;
        t.MoveToOuterDisposeScope();
        tDot?.MoveToOuterDisposeScope();
        return (t, tDot);
    }

    internal static double TinyFor(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-300 : 1e-30;
}
