using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// φ(x) = x·Φ(x), the exact (erf) GELU that <c>torch.nn.functional.gelu</c> computes by default.
/// <para>
/// Derivation. Write Φ(u) = P(Z₁ ≤ u), Φ(v) = P(Z₂ ≤ v) with Z₁, Z₂ ~ N(0, 1) independent of (u, v), let
/// D = (1 + k11)(1 + k22) − k12² and ρ = k12/√((1 + k11)(1 + k22)). Then
/// (A) E[Φ(u)Φ(v)] = P(Z₁ − u ≤ 0, Z₂ − v ≤ 0) = 1/4 + arcsin(ρ)/(2π) (orthant probability);
/// multiplying the density by the Gaussian factor φ_N(u) = e^(−u²/2)/√(2π) gives a Gaussian again (Sherman–Morrison)
/// with mass 1/√(2π(1 + k11)), so by Stein's lemma
/// (B) E[φ_N(u)·v·Φ(v)] = (k22(1 + k11) − k12²)/(2π(1 + k11)√D),
/// (C) E[φ_N(v)·v·Φ(u)] = k12/(2π(1 + k22)√D),
/// (E) E[u·v·φ_N(u)·φ_N(v)] = k12/(2π·D^{3/2}).
/// Stein's lemma on u gives T = k11·(B) + k12·(A) + k12·(C), i.e.
/// T = k12/4 + k12·arcsin(ρ)/(2π) + (k11·k22(1 + k11)(1 + k22) + k12²(1 − k11·k22))/(2π(1 + k11)(1 + k22)√D),
/// and with φ'(x) = Φ(x) + x·φ_N(x),
/// Ṫ = 1/4 + arcsin(ρ)/(2π) + k12/(2π√D)·(1/(1 + k11) + 1/(1 + k22)) + k12/(2π·D^{3/2}).
/// Checks: at k12 = 0, T = E[uΦ(u)]·E[vΦ(v)] and Ṫ = (1/2)²; dT/dk12 = Ṫ (Price's theorem); both equal 2-D
/// Gauss–Hermite quadrature (order 256) to 1e-9 relative (tests/GpuNtk.Tests/Kernels/Analytic/DualActivationTests.cs).
/// </para>
/// </summary>
public sealed class GeluDual : IDualActivation
{
    public string Name => "gelu";

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        using var scope = NewDisposeScope();
        var p1 = k11 + 1;
        var p2 = k22 + 1;
        var p12 = p1 * p2;
        var k12Sq = k12.square();
        var d = p12 - k12Sq;
        var sqrtD = d.sqrt();
        var asinRho = k12.div(p12.sqrt()).clamp_(-1, 1).asin_();
        var quarterPlusAsin = asinRho.div(2 * Math.PI).add_(0.25);
        var kk = k11 * k22;
        var t = (kk * p12).add_(k12Sq.mul(kk.neg().add_(1))).div_(p12.mul(sqrtD).mul_(2 * Math.PI))
            .addcmul_(k12, quarterPlusAsin, 1);
        Tensor? tDot = null;
        if (derivative)
        {
            var inv = p1.reciprocal() + p2.reciprocal();
            tDot = k12.div(sqrtD.mul(2 * Math.PI)).mul_(inv)
                .add_(k12.div(d.pow(1.5).mul_(2 * Math.PI)))
                .add_(quarterPlusAsin);
            tDot.MoveToOuterDisposeScope();
        }
        t.MoveToOuterDisposeScope();
        return (t, tDot);
    }
}
