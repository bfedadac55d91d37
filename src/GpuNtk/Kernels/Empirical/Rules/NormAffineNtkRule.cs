using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The affine parameters of LayerNorm and GroupNorm: y = γ∘x̂ + β with x̂ the normalised input, so
/// ∂f_a(x_i)/∂γ = Σ G_ia∘x̂_i and ∂f_a(x_i)/∂β = Σ G_ia (sums over the positions that share a parameter) —
/// a closed form from the captured input, no per-example autograd.
/// </summary>
internal sealed class NormAffineNtkRule : ILayerNtkRule
{
    private readonly Func<Tensor, Tensor> _normalize;
    private readonly Tensor? _weight;
    private readonly Tensor? _bias;
    private readonly int _paramDims; // trailing dims of the signal that index parameters (after N, O, …)
    private readonly bool _channelFirst; // GroupNorm: parameters index dim 1 of the input (channels)

    private NormAffineNtkRule(Func<Tensor, Tensor> normalize, Tensor? weight, Tensor? bias, int paramDims, bool channelFirst)
    {
        _normalize = normalize;
        _weight = weight;
        _bias = bias;
        _paramDims = paramDims;
        _channelFirst = channelFirst;
    }

    public static NormAffineNtkRule? TryCreate(nn.Module module) => module switch
    {
        LayerNorm ln => new NormAffineNtkRule(x => nn.functional.layer_norm(x, ln.normalized_shape, eps: ln.eps),
            ln.weight, ln.bias, ln.normalized_shape.Length, channelFirst: false),
        GroupNorm gn => new NormAffineNtkRule(x => nn.functional.group_norm(x, gn.num_groups, eps: gn.eps),
            gn.weight, gn.bias, 1, channelFirst: true),
        _ => null,
    };

    public long Slices(ModuleCall call) => 1;

    public long SliceWidth(ModuleCall call) =>
        ((_weight is { requires_grad: true } ? 1 : 0) + (_bias is { requires_grad: true } ? 1 : 0))
        * (_weight ?? _bias)!.numel();

    public Tensor Jacobian(ModuleCall call, long start, long count)
    {
        using var scope = NewDisposeScope();
        long n = call.Examples, o = call.Outputs;
        var g = call.Signal; // [N, O, …input shape without N]
        // Bring the parameter-indexed dims last, flatten the rest: [N, O, positions, params].
        if (_channelFirst) g = g.movedim([2L], [-1L]);
        long pcount = g.shape[^_paramDims..].Aggregate(1L, (a, b) => a * b);
        var g3 = g.reshape(n, o, -1, pcount);
        var parts = new List<Tensor>();
        if (_weight is { requires_grad: true })
        {
            var xh = _normalize(call.Input).unsqueeze(1);
            if (_channelFirst) xh = xh.movedim([2L], [-1L]);
            parts.Add(g3.mul(xh.reshape(n, 1, -1, pcount)).sum(2));
        }
        if (_bias is { requires_grad: true }) parts.Add(g3.sum(2));
        return (parts.Count == 1 ? parts[0] : cat(parts, 2)).MoveToOuterDisposeScope();
    }

    public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc) => false;
}
