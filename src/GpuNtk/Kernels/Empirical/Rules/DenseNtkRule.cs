using GpuNtk.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// y = WM·x Wᵀ + BM·b on <c>[N, in]</c> rows (<see cref="DenseLayer"/>; TorchSharp's Linear with WM = BM = 1).
/// ∂f_a(x_i)/∂W = WM·G_ia ⊗ A_i and ∂f_a(x_i)/∂b = BM·G_ia, so the layer adds
/// Θ[i, j, a, b] += (WM²·A_i·A_j + BM²)·(G_ia·G_jb): one Gram matrix of inputs and one of signals — the Jacobian
/// (size N·O·fan_in·fan_out) is never formed.
/// </summary>
internal sealed class DenseNtkRule : ILayerNtkRule
{
    private readonly nn.Module _module;
    private readonly Tensor? _weight;
    private readonly Tensor? _bias;
    private readonly double _wm;
    private readonly double _bm;

    private DenseNtkRule(nn.Module module, Tensor? weight, Tensor? bias, double wm, double bm)
    {
        _module = module;
        _weight = weight;
        _bias = bias;
        _wm = wm;
        _bm = bm;
    }

    public static DenseNtkRule? TryCreate(nn.Module module) => module switch
    {
        DenseLayer d => new DenseNtkRule(d, d.weight, d.bias, d.WeightMultiplier, d.BiasMultiplier),
        Linear l => new DenseNtkRule(l, l.weight, l.bias, 1.0, 1.0),
        _ => null,
    };

    private bool WeightTrained => _weight is { requires_grad: true };
    private bool BiasTrained => _bias is { requires_grad: true };

    // The factorisation needs [N, in] inputs; a Linear applied to [N, T, in] sums over T and goes the generic way.
    private static bool Flat(ModuleCall c) => c.Input.dim() == 2 && c.Signal.dim() == 3;

    public long Slices(ModuleCall call) => Flat(call) ? call.Signal.shape[2] : 1;

    public long SliceWidth(ModuleCall call) => Flat(call)
        ? (WeightTrained ? call.Input.shape[1] : 0) + (BiasTrained ? 1 : 0)
        : new GenericModuleNtkRule(_module).SliceWidth(call);

    public Tensor Jacobian(ModuleCall call, long start, long count)
    {
        if (!Flat(call)) return new GenericModuleNtkRule(_module).Jacobian(call, start, count);
        using var scope = NewDisposeScope();
        long n = call.Examples, o = call.Outputs;
        var scaled = InputFeatures(call.Input); // [N, K]
        long k = scaled.shape[1];
        var j = call.Signal.narrow(2, start, count).unsqueeze(3).mul(scaled.view(n, 1, 1, k)).reshape(n, o, count * k);
        return j.MoveToOuterDisposeScope();
    }

    public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc)
    {
        if (!Flat(c1) || !Flat(c2)) return false;
        using var scope = NewDisposeScope();
        Tensor k;
        if (acc.IsDiagonal)
            k = WeightTrained ? c1.Input.mul(c2.Input).sum(1).mul_(_wm * _wm) : zeros(acc.N1, c1.Input.dtype, c1.Input.device);
        else
            k = WeightTrained ? c1.Input.matmul(c2.Input.t()).mul_(_wm * _wm) : zeros(acc.N1, acc.N2, c1.Input.dtype, c1.Input.device);
        if (BiasTrained) k.add_(_bm * _bm);
        acc.AddFactored(k, c1.Signal, c2.Signal);
        return true;
    }

    /// <summary>[WM·x | BM] per example, with only the trainable parts.</summary>
    private Tensor InputFeatures(Tensor a)
    {
        var parts = new List<Tensor>();
        if (WeightTrained) parts.Add(a.mul(_wm));
        if (BiasTrained) parts.Add(full(a.shape[0], 1, _bm, a.dtype, a.device));
        return parts.Count == 1 ? parts[0] : cat(parts, 1);
    }
}
