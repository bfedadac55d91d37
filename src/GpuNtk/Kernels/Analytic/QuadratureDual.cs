using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// The dual of any elementwise φ by 2-D Gauss–Hermite quadrature on the bivariate Gaussian: with z₁, z₂ the nodes,
/// u = √k11·z₁ and v = √k22·(ρ·z₁ + √(1 − ρ²)·z₂), ρ = k12/√(k11·k22), so
/// T ≈ Σᵢⱼ wᵢwⱼ·φ(uᵢ)·φ(vᵢⱼ) and likewise Ṫ with φ'. Accurate to rounding for smooth φ (tanh, erf, GELU) at
/// order ≈ 48–64; for kinks (ReLU) it converges slowly, so prefer the closed forms there.
/// Cost: order² evaluations per entry — for tests, tanh and small problems, not for 10⁸-entry kernels.
/// </summary>
public sealed class QuadratureDual : IDualActivation
{
    private readonly Func<Tensor, Tensor> _phi;
    private readonly Func<Tensor, Tensor> _derivative;
    private readonly double[] _nodes;
    private readonly double[] _weights;
    private readonly string _label;

    /// <param name="label">Name of φ, for <see cref="Name"/>.</param>
    /// <param name="phi">Elementwise φ; must accept any shape, dtype and device.</param>
    /// <param name="derivative">Elementwise φ'; null: by autograd through <paramref name="phi"/>.</param>
    /// <param name="order">Nodes per dimension.</param>
    public QuadratureDual(string label, Func<Tensor, Tensor> phi, Func<Tensor, Tensor>? derivative = null, int order = 64)
    {
        ArgumentNullException.ThrowIfNull(phi);
        _label = label;
        _phi = phi;
        _derivative = derivative ?? (x => AutogradDerivative(phi, x));
        (_nodes, _weights) = GaussHermite.Rule(order);
    }

    public int Order => _nodes.Length;

    public string Name => $"quadrature({_label},{Order})";

    /// <summary>tanh with its derivative 1 − tanh².</summary>
    public static QuadratureDual Tanh(int order = 64) =>
        new("tanh", torch.tanh, x => { using var t = torch.tanh(x); return t.square().neg_().add_(1); }, order);

    /// <summary>Entries per chunk times order² stays under this, bounding the working memory.</summary>
    private const long ChunkEvaluations = 1L << 23;

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        using var scope = NewDisposeScope();
        var shape = IdentityDual.BroadcastShape(k12, k11, k22);
        var c = k12.expand(shape).reshape(-1);
        var a = k11.expand(shape).reshape(-1);
        var b = k22.expand(shape).reshape(-1);
        var z = tensor(_nodes, dtype: k12.dtype, device: k12.device);
        var w = tensor(_weights, dtype: k12.dtype, device: k12.device);
        long q = _nodes.Length, m = c.shape[0];
        long chunk = Math.Max(1, ChunkEvaluations / (q * q));
        var ts = new List<Tensor>();
        var tDots = new List<Tensor>();
        for (long start = 0; start < m; start += chunk)
        {
            long len = Math.Min(chunk, m - start);
            var (t, tDot) = Chunk(c.narrow(0, start, len), a.narrow(0, start, len), b.narrow(0, start, len), z, w, derivative);
            ts.Add(t);
            if (tDot is not null) tDots.Add(tDot);
        }
        var tAll = cat(ts, 0).reshape(shape).MoveToOuterDisposeScope();
        var tDotAll = derivative ? cat(tDots, 0).reshape(shape).MoveToOuterDisposeScope() : null;
        return (tAll, tDotAll);
    }

    private (Tensor T, Tensor? TDot) Chunk(Tensor k12, Tensor k11, Tensor k22, Tensor z, Tensor w, bool derivative)
    {
        var s1 = k11.sqrt();
        var s2 = k22.sqrt();
        var rho = k12.div((s1 * s2).clamp_min(ReluDual.TinyFor(k12.dtype))).clamp_(-1, 1);
        var rhoPerp = rho.square().neg_().add_(1).clamp_min_(0).sqrt_();
        var u = s1.unsqueeze(1) * z;                                                   // [M, Q]
        var v = (rho.unsqueeze(1) * z).unsqueeze(2).add(rhoPerp.view(-1, 1, 1) * z.view(1, 1, -1))
            .mul_(s2.view(-1, 1, 1));                                                   // [M, Q(i), Q(j)]
        var t = Expectation(_phi, u, v, w);
        return (t, derivative ? Expectation(_derivative, u, v, w) : null);
    }

    private static Tensor Expectation(Func<Tensor, Tensor> f, Tensor u, Tensor v, Tensor w)
    {
        var fu = f(u).mul_(w);                        // wᵢ·f(uᵢ)
        var fv = f(v).matmul(w);                      // Σⱼ wⱼ·f(vᵢⱼ)
        return fu.mul_(fv).sum(1);
    }

    private static Tensor AutogradDerivative(Func<Tensor, Tensor> phi, Tensor x)
    {
        using var grad = enable_grad();
        using var scope = NewDisposeScope();
        var leaf = x.detach().requires_grad_(true);
        var y = phi(leaf);
        var g = autograd.grad([y.sum()], [leaf])[0];
        return g.detach().MoveToOuterDisposeScope();
    }
}
