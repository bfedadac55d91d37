using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Directional derivatives of a fully connected network that never form a P-sized object per row. A point is an
/// (example, output) pair: δ_d backpropagates from output o_d, so g_d stays rank one per layer.
/// <para>
/// A direction g_d = ∇θ f(x_d) restricted to dense layer l (z = w·W a + β·b) is rank one: w·δ_d a_dᵀ for W and β·δ_d
/// for b, with a_d the layer's input and δ_d = ∂f/∂z at x_d. Moving θ by Σ_d ξ_d g_d therefore changes the layer's
/// output on an input a by Σ_d ξ_d (w²·a_d·a + β²)·δ_d — a product of <c>[R, m]</c> and <c>[m, out]</c> matrices.
/// Each row r gets its own coordinates ξ_r ∈ ℝ^m, so F_r(ξ_r) = f(x_r; θ + Σ_d ξ_{r,d} g_d) depends on ξ_r alone and
/// its derivatives at ξ = 0 are exactly the projections we need: ∂F_r/∂ξ_d = g_r·g_d,
/// ∂²F_r/∂ξ_d∂ξ_e = ∇²f(x_r)[g_d, g_e], and so on — plain autograd (double and triple backward) in m coordinates.
/// </para>
/// <para>
/// Hessian-vector products H_x g_d restricted to layer l are w·(δ̇ aᵀ + δ ȧᵀ) and β·δ̇, where the dots are derivatives
/// along ξ_d of the layer's input and backprop signal (forward-mode by the double-backward trick). Their inner products
/// reduce to width-sized dot products.
/// </para>
/// </summary>
internal sealed class StructuredDenseDirectionalDerivatives : IDirectionalDerivatives
{
    private readonly DenseNetworkPlan _plan;
    private readonly Layer?[] _layers;   // per dense step, null when frozen
    private readonly long _m;
    private readonly ScalarType _dtype;

    /// <summary>A trainable dense layer's direction factors: inputs a_d <c>[m, in]</c> and signals δ_d <c>[m, out]</c>.</summary>
    private sealed record Layer(DenseNetworkPlan.DenseStep Step, Tensor Inputs, Tensor Signals)
    {
        public double W2 => Step.Weight is null ? 0 : Step.Layer.WeightMultiplier * Step.Layer.WeightMultiplier;
        public double B2 => Step.Bias is null ? 0 : Step.Layer.BiasMultiplier * Step.Layer.BiasMultiplier;
    }

    public StructuredDenseDirectionalDerivatives(DenseNetworkPlan plan, Tensor directionPoints, Tensor directionOutputs)
    {
        _plan = plan;
        _m = directionPoints.shape[0];
        _dtype = directionPoints.dtype;
        var dense = plan.DenseSteps.ToArray();
        _layers = new Layer?[dense.Length];
        using var scope = NewDisposeScope();
        // One ordinary forward/backward over the direction points gives every layer's factors.
        var inputs = new List<Tensor>();
        var zs = new List<Tensor>();
        var f = plan.Replay(directionPoints, directionOutputs, (d, a) =>
        {
            var z = a.matmul(d.Layer.weight.t()).mul(d.Layer.WeightMultiplier).add(d.Layer.bias, alpha: d.Layer.BiasMultiplier);
            if (d.Trainable)
            {
                inputs.Add(a.detach());
                zs.Add(z);
            }
            return z;
        });
        var signals = ParameterGradients.Of([f.sum()], zs);
        int t = 0;
        for (int i = 0; i < dense.Length; i++)
        {
            if (!dense[i].Trainable) continue;
            var s = signals[t];
            _layers[i] = new Layer(dense[i], inputs[t].MoveToOuterDisposeScope(), s.detach().MoveToOuterDisposeScope());
            t++;
        }
    }

    public long DirectionCount => _m;

    private long WidthSum => _layers.Where(l => l is not null).Sum(l => l!.Inputs.shape[1] + l.Signals.shape[1]);

    public long HessianVectorBytesPerRow => 2 * WidthSum * _dtype.ElementSize();

    public long BytesPerRow(int order) => (WidthSum * (12 + 10 * order) + _m * (4 + 4 * order)) * _dtype.ElementSize();

    public Tensor FirstOrder(Tensor x, Tensor o)
    {
        using var scope = NewDisposeScope();
        var xi = Coordinates(x.shape[0]);
        return Grad(Forward(x, o, xi, null, null).sum(), xi, createGraph: false).MoveToOuterDisposeScope();
    }

    public Tensor SecondOrder(Tensor x, Tensor o, Tensor e)
    {
        using var scope = NewDisposeScope();
        var xi = Coordinates(x.shape[0]);
        var j = Grad(Forward(x, o, xi, null, null).sum(), xi, createGraph: true);
        return Grad(Pick(j, e), xi, createGraph: false).MoveToOuterDisposeScope();
    }

    public Tensor ThirdOrder(Tensor x, Tensor o, Tensor k, Tensor l)
    {
        using var scope = NewDisposeScope();
        var xi = Coordinates(x.shape[0]);
        var j = Grad(Forward(x, o, xi, null, null).sum(), xi, createGraph: true);
        var b = Grad(Pick(j, k), xi, createGraph: true);
        return Grad(Pick(b, l), xi, createGraph: false).MoveToOuterDisposeScope();
    }

    /// <summary>Per trainable layer, four tensors: δ <c>[R, out]</c>, a <c>[R, in]</c>, δ̇ <c>[R, out]</c>, ȧ <c>[R, in]</c>.</summary>
    public Tensor[] HessianVectorProducts(Tensor x, Tensor o, Tensor d)
    {
        using var scope = NewDisposeScope();
        long r = x.shape[0];
        var xi = Coordinates(r);
        var zs = new List<Tensor>();
        var ins = new List<Tensor>();
        var f = Forward(x, o, xi, zs, ins);
        var signals = ParameterGradients.Of([f.sum()], zs, retainGraph: true, createGraph: true);
        // Forward-mode along ξ_{r, d_r} by the double-backward trick: q = ∂⟨u, y⟩/∂ξ is linear in the dummies u, and
        // ∂(Σ_r q[r, d_r])/∂u = ∂y/∂ξ_{r, d_r} row by row.
        var ys = signals.Concat(ins).ToArray();
        var dummies = ys.Select(y => zeros_like(y).requires_grad_(true)).ToArray();
        var tangents = ys.Select(y => zeros_like(y)).ToArray();
        var live = Enumerable.Range(0, ys.Length).Where(i => ys[i].requires_grad).ToArray();
        if (live.Length > 0)
        {
            Tensor s = live.Select(i => dummies[i].mul(ys[i]).sum()).Aggregate((p, q) => p.add(q));
            var q = Grad(s, xi, createGraph: true);
            if (q.requires_grad)
            {
                var dt = ParameterGradients.OrNull([Pick(q, d)], live.Select(i => dummies[i]).ToArray());
                for (int i = 0; i < live.Length; i++)
                    if (dt[i] is { } g) tangents[live[i]] = g;
            }
        }
        int n = signals.Length;
        var result = new Tensor[4 * n];
        for (int i = 0; i < n; i++)
        {
            result[4 * i] = signals[i].detach().MoveToOuterDisposeScope();
            result[4 * i + 1] = ins[i].detach().MoveToOuterDisposeScope();
            result[4 * i + 2] = tangents[i].detach().MoveToOuterDisposeScope();
            result[4 * i + 3] = tangents[n + i].detach().MoveToOuterDisposeScope();
        }
        return result;
    }

    public Tensor HessianVectorGram(Tensor[] left, Tensor[] right)
    {
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        int i = 0;
        foreach (var layer in _layers.Where(l => l is not null))
        {
            var (dl, al, ddl, adl) = (left[4 * i], left[4 * i + 1], left[4 * i + 2], left[4 * i + 3]);
            var (dr, ar, ddr, adr) = (right[4 * i], right[4 * i + 1], right[4 * i + 2], right[4 * i + 3]);
            i++;
            var dotDot = ddl.matmul(ddr.t());
            Tensor term = dotDot.mul(layer!.B2);
            if (layer.W2 != 0)
            {
                // ⟨δ̇₁a₁ᵀ + δ₁ȧ₁ᵀ, δ̇₂a₂ᵀ + δ₂ȧ₂ᵀ⟩ for the weight matrix.
                var w = dotDot.mul(al.matmul(ar.t()))
                    .add_(ddl.matmul(dr.t()).mul_(al.matmul(adr.t())))
                    .add_(dl.matmul(ddr.t()).mul_(adl.matmul(ar.t())))
                    .add_(dl.matmul(dr.t()).mul_(adl.matmul(adr.t())));
                term = term.add_(w.mul_(layer.W2));
            }
            sum = sum is null ? term : sum.add_(term);
        }
        return sum!.MoveToOuterDisposeScope();
    }

    private Tensor Coordinates(long rows) => zeros(rows, _m, _dtype, _layers.First(l => l is not null)!.Signals.device).requires_grad_(true);

    /// <summary>f(x_r; θ + Σ_d ξ_{r,d} g_d); collects each trainable layer's pre-activation and input when asked.</summary>
    private Tensor Forward(Tensor x, Tensor o, Tensor xi, List<Tensor>? zs, List<Tensor>? ins)
    {
        long r = x.shape[0];
        int li = 0;
        return _plan.Replay(x, o, (d, a) =>
        {
            var z = a.matmul(d.Layer.weight.detach().t()).mul(d.Layer.WeightMultiplier)
                     .add(d.Layer.bias.detach(), alpha: d.Layer.BiasMultiplier);
            if (_layers[li++] is { } layer)
            {
                var coef = layer.W2 != 0 ? a.matmul(layer.Inputs.t()).mul(layer.W2).add(layer.B2) : full(r, _m, layer.B2, _dtype, a.device);
                z = z.add(xi.mul(coef).matmul(layer.Signals));
                ins?.Add(a);
                zs?.Add(z);
            }
            return z;
        });
    }

    private static Tensor Pick(Tensor rows, Tensor index) => rows.gather(1, index.unsqueeze(1)).sum();

    private static Tensor Grad(Tensor scalar, Tensor xi, bool createGraph) =>
        ParameterGradients.Of([scalar], [xi], retainGraph: createGraph, createGraph: createGraph)[0];
}
