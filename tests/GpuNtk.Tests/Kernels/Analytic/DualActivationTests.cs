using GpuNtk.Kernels.Analytic;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Analytic;

/// <summary>Closed-form duals against 2-D Gauss–Hermite quadrature of the same φ, φ' (float64).</summary>
public sealed class DualActivationTests
{
    private const double InvSqrt2Pi = 0.3989422804014327;

    /// <summary>Covariance triples: variances 0.05…6, correlations −1…1 (including ±1 and 0).</summary>
    private static (Tensor K12, Tensor K11, Tensor K22) Triples()
    {
        using var g = new Generator(11);
        var k11 = rand(200, ScalarType.Float64, generator: g).mul_(6).add_(0.05);
        var k22 = rand(200, ScalarType.Float64, generator: g).mul_(6).add_(0.05);
        var rho = rand(200, ScalarType.Float64, generator: g).mul_(2).sub_(1);
        rho[0] = 1; rho[1] = -1; rho[2] = 0; rho[3] = 0.999999;
        k22[0] = k11[0];                          // the diagonal case: u = v
        return (rho * (k11 * k22).sqrt(), k11, k22);
    }

    private static Tensor Phi(Tensor x) => special.ndtr(x);
    private static Tensor NormalPdf(Tensor x) => x.square().mul(-0.5).exp().mul(InvSqrt2Pi);

    private static IEnumerable<TestCaseData> SmoothCases()
    {
        yield return new TestCaseData(new ErfDual(), new QuadratureDual("erf", torch.erf, x => x.square().neg().exp().mul(2 / Math.Sqrt(Math.PI)), order: 256), 1e-9)
            .SetName("Erf");
        yield return new TestCaseData(new GeluDual(), new QuadratureDual("gelu", x => x * Phi(x), x => Phi(x) + x * NormalPdf(x), order: 256), 1e-9)
            .SetName("Gelu");
        yield return new TestCaseData(new IdentityDual(), new QuadratureDual("x", x => x.alias(), x => ones_like(x), order: 8), 1e-12)
            .SetName("Identity");
    }

    [TestCaseSource(nameof(SmoothCases))]
    public void ClosedFormEqualsQuadrature(IDualActivation closed, QuadratureDual quadrature, double tolerance)
    {
        using var scope = NewDisposeScope();
        var (k12, k11, k22) = Triples();
        var (t, tDot) = closed.Apply(k12, k11, k22, derivative: true);
        var (tq, tDotq) = quadrature.Apply(k12, k11, k22, derivative: true);
        AssertClose(t, tq, tolerance, "T");
        AssertClose(tDot!, tDotq!, tolerance, "Ṫ");
    }

    [TestCase(0.0, 1.0)]     // ReLU
    [TestCase(0.2, 1.0)]     // LeakyReLU(0.2)
    [TestCase(-1.0, 1.0)]    // |x|
    [TestCase(0.5, -2.0)]
    public void AbReluEqualsQuadrature(double a, double b)
    {
        // Gauss–Hermite converges only algebraically across a kink (T to ≈1e-3 at order 200; Ṫ, a step, worse), so the
        // tight oracle here is a
        // kink-aware quadrature: E[φ(v) | u] and E[φ'(v) | u] in closed form (v | u is Gaussian), then the outer
        // integral over u by Gauss–Legendre on each side of the kink at u = 0.
        using var scope = NewDisposeScope();
        var (k12, k11, k22) = Triples();
        IDualActivation closed = a == 0 && b == 1 ? new ReluDual() : new AbReluDual(a, b);
        var (t, tDot) = closed.Apply(k12, k11, k22, derivative: true);
        var (tq, tDotq) = KinkAwareAbRelu(a, b, k12, k11, k22);
        AssertClose(t, tq, 1e-8, "T");
        AssertClose(tDot!, tDotq, 1e-8, "Ṫ");
        var gauss = new QuadratureDual("abrelu", x => where(x > 0, x * b, x * a), x => where(x > 0, b, a).to(x.dtype), order: 200);
        var (tg, _) = gauss.Apply(k12, k11, k22, derivative: false);
        AssertClose(tg, t, 5e-3, "T by plain Gauss–Hermite (slow convergence at the kink)");
    }

    private static (Tensor T, Tensor TDot) KinkAwareAbRelu(double a, double b, Tensor k12, Tensor k11, Tensor k22)
    {
        // Composite Gauss–Legendre on [0, 12σ], refined geometrically towards the kink: when |ρ| → 1 the conditional
        // step E[1{v > 0} | u] sharpens to a width √(1 − ρ²)·σ at u = 0.
        double[] edges = [0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 2, 4, 7, 12];
        var (x0, w0) = GaussLegendre(40);
        var x = cat(edges.Zip(edges.Skip(1), (lo, hi) => x0 * (hi - lo) + lo).ToArray());
        var w = cat(edges.Zip(edges.Skip(1), (lo, hi) => w0 * (hi - lo)).ToArray());
        var s1 = k11.sqrt().unsqueeze(1);
        var uPos = s1 * x;                                             // [M, Q]
        var wPos = s1 * w;
        var tSum = zeros_like(k12);
        var tDotSum = zeros_like(k12);
        foreach (var sign in new[] { 1.0, -1.0 })
        {
            var u = uPos * sign;
            var density = (u.square() / (-2 * k11.unsqueeze(1))).exp() / (2 * Math.PI * k11.unsqueeze(1)).sqrt() * wPos;
            var m = u * (k12 / k11).unsqueeze(1);                      // E[v | u]
            var s = (k22 - k12.square() / k11).clamp_min(0).sqrt().unsqueeze(1).clamp_min(1e-300);
            var ratio = m / s;
            var reluMean = m * Phi(ratio) + s * NormalPdf(ratio);      // E[relu(v) | u]
            var phiV = (b - a) * reluMean + a * m;                     // E[φ(v) | u]
            var dPhiV = (b - a) * Phi(ratio) + a;                      // E[φ'(v) | u]
            double slope = sign > 0 ? b : a;
            tSum += (slope * u * phiV * density).sum(1);
            tDotSum += (slope * dPhiV * density).sum(1);
        }
        return (tSum, tDotSum);
    }

    /// <summary>Gauss–Legendre rule on [0, 1] (Golub–Welsch).</summary>
    private static (Tensor Nodes, Tensor Weights) GaussLegendre(int n)
    {
        var k = arange(1, n, ScalarType.Float64);
        var off = k / (4 * k.square() - 1).sqrt();
        var (values, vectors) = linalg.eigh(diag(off, 1) + diag(off, -1));
        return ((values + 1) / 2, vectors[0].square());
    }

    [Test]
    public void GeluDerivativeIsTheCovarianceDerivativeOfT()
    {
        // Price's theorem: ∂T/∂k12 = E[φ'(u)φ'(v)] — an independent check of the derivation of Ṫ from T.
        using var scope = NewDisposeScope();
        var (k12, k11, k22) = Triples();
        var inner = k12.narrow(0, 4, 196);
        var (a, b) = (k11.narrow(0, 4, 196), k22.narrow(0, 4, 196));
        double h = 1e-6;
        var dual = new GeluDual();
        var (tPlus, _) = dual.Apply(inner + h, a, b, false);
        var (tMinus, _) = dual.Apply(inner - h, a, b, false);
        var (_, tDot) = dual.Apply(inner, a, b, true);
        AssertClose((tPlus - tMinus) / (2 * h), tDot!, 1e-7, "finite difference of T");
    }

    [Test]
    public void AutogradDerivativeMatchesExplicitOne()
    {
        using var scope = NewDisposeScope();
        var (k12, k11, k22) = Triples();
        var auto = new QuadratureDual("tanh", torch.tanh, derivative: null, order: 32);
        var (t, tDot) = auto.Apply(k12, k11, k22, true);
        var (te, tDote) = QuadratureDual.Tanh(32).Apply(k12, k11, k22, true);
        AssertClose(t, te, 1e-14, "T");
        AssertClose(tDot!, tDote!, 1e-14, "Ṫ");
    }

    [Test]
    public void GaussHermiteIntegratesMomentsExactly()
    {
        var (z, w) = GaussHermite.Rule(10);
        double[] moments = [1, 0, 1, 0, 3, 0, 15, 0, 105, 0, 945]; // E[Z^k]
        for (int k = 0; k < moments.Length; k++)
            Assert.That(z.Zip(w, (zi, wi) => wi * Math.Pow(zi, k)).Sum(), Is.EqualTo(moments[k]).Within(1e-10 * (1 + moments[k])), $"E[Z^{k}]");
    }

    [Test]
    public void BroadcastsRowAndColumnVariances()
    {
        // The grid pass calls the duals with k11 [B1, 1] and k22 [1, B2] against k12 [B1, B2].
        using var scope = NewDisposeScope();
        var v1 = tensor(new[] { 0.5, 1.0, 2.0 }, ScalarType.Float64);
        var v2 = tensor(new[] { 0.3, 1.5 }, ScalarType.Float64);
        var k12 = (v1.unsqueeze(1) * v2.unsqueeze(0)).sqrt() * tensor(new[] { 0.3, -0.6 }, ScalarType.Float64);
        foreach (var dual in new IDualActivation[] { new ReluDual(), new AbReluDual(0.1, 1), new ErfDual(), new GeluDual(), new IdentityDual(), QuadratureDual.Tanh(16) })
        {
            var (t, tDot) = dual.Apply(k12, v1.unsqueeze(1), v2.unsqueeze(0), true);
            var (tFlat, tDotFlat) = dual.Apply(k12.reshape(-1), v1.repeat_interleave(2), v2.repeat(3), true);
            Assert.That(t.shape, Is.EqualTo(new long[] { 3, 2 }), dual.Name);
            AssertClose(t.reshape(-1), tFlat, 1e-14, $"{dual.Name} T");
            AssertClose(tDot!.reshape(-1), tDotFlat!, 1e-14, $"{dual.Name} Ṫ");
        }
    }

    [Test]
    public void WorksInFloat32()
    {
        using var scope = NewDisposeScope();
        var (k12, k11, k22) = Triples();
        foreach (var dual in new IDualActivation[] { new ReluDual(), new ErfDual(), new GeluDual(), QuadratureDual.Tanh(32) })
        {
            var (t64, d64) = dual.Apply(k12, k11, k22, true);
            var (t32, d32) = dual.Apply(k12.to(ScalarType.Float32), k11.to(ScalarType.Float32), k22.to(ScalarType.Float32), true);
            Assert.That(t32.dtype, Is.EqualTo(ScalarType.Float32), dual.Name);
            AssertClose(t32.to(ScalarType.Float64), t64, 1e-4, $"{dual.Name} T in float32");
            AssertClose(d32!.to(ScalarType.Float64), d64!, 2e-3, $"{dual.Name} Ṫ in float32");
        }
    }

    private static void AssertClose(Tensor actual, Tensor expected, double tolerance, string what)
    {
        double err = (actual - expected).abs().max().item<double>();
        double scale = Math.Max(1, expected.abs().max().item<double>());
        Assert.That(err / scale, Is.LessThan(tolerance), $"{what}: max error {err:E3} (scale {scale:G3})");
    }
}
