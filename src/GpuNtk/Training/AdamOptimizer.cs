using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Adam and AdamW with PyTorch's semantics (<c>torch.optim.Adam</c>/<c>AdamW</c>, β = (0.9, 0.999), ε = 1e-8, bias
/// correction): Adam adds the weight decay to the gradient, AdamW shrinks θ by η·λ_wd before the update. Written out
/// like <see cref="SgdOptimizer"/> so its moments and step count checkpoint exactly. Updates are in place on the device.
/// </summary>
public sealed class AdamOptimizer : IParameterOptimizer
{
    public const double Beta1 = 0.9;
    public const double Beta2 = 0.999;
    public const double Epsilon = 1e-8;

    private readonly Parameter[] _parameters;
    private readonly Tensor?[] _m;
    private readonly Tensor?[] _v;
    private long _steps;

    public AdamOptimizer(IEnumerable<Parameter> parameters, double weightDecay = 0, bool decoupled = false)
    {
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("the optimizer has no parameters to train");
        if (!(weightDecay >= 0)) throw new ArgumentException($"weight decay must be ≥ 0, got {weightDecay}");
        _m = new Tensor?[_parameters.Length];
        _v = new Tensor?[_parameters.Length];
        WeightDecay = weightDecay;
        Decoupled = decoupled;
    }

    public double WeightDecay { get; }
    /// <summary>AdamW (true) or Adam with L2 weight decay (false).</summary>
    public bool Decoupled { get; }
    public IReadOnlyList<Parameter> Parameters => _parameters;

    public void Step(double learningRate)
    {
        using var noGrad = no_grad();
        _steps++;
        double c1 = 1 - Math.Pow(Beta1, _steps), c2 = 1 - Math.Pow(Beta2, _steps);
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var scope = NewDisposeScope();
            var p = _parameters[i];
            var g = p.grad;
            if (g is null) continue;
            if (WeightDecay > 0)
            {
                if (Decoupled) p.mul_(1 - learningRate * WeightDecay);
                else g = g.add(p, alpha: WeightDecay);
            }
            _m[i] ??= zeros_like(p).DetachFromDisposeScope();
            _v[i] ??= zeros_like(p).DetachFromDisposeScope();
            _m[i]!.mul_(Beta1).add_(g, alpha: 1 - Beta1);
            _v[i]!.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            var denom = _v[i]!.sqrt().div_(Math.Sqrt(c2)).add_(Epsilon);
            p.addcdiv_(_m[i]!, denom, value: -learningRate / c1);
        }
    }

    public IEnumerable<(string Name, Tensor Value)> SaveState()
    {
        yield return ("steps", tensor(_steps));
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (_m[i] is { } m) yield return ($"m.{i}", m);
            if (_v[i] is { } v) yield return ($"v.{i}", v);
        }
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        _steps = state.TryGetValue("steps", out var s) ? s.item<long>() : 0;
        for (int i = 0; i < _parameters.Length; i++)
        {
            _m[i]?.Dispose();
            _v[i]?.Dispose();
            _m[i] = state.TryGetValue($"m.{i}", out var m) ? m.to(_parameters[i].dtype, _parameters[i].device).clone().DetachFromDisposeScope() : null;
            _v[i] = state.TryGetValue($"v.{i}", out var v) ? v.to(_parameters[i].dtype, _parameters[i].device).clone().DetachFromDisposeScope() : null;
        }
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t?.Dispose();
    }
}
