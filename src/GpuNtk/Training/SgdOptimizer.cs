using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// SGD with optional heavy-ball or Nesterov momentum, with PyTorch's <c>torch.optim.SGD</c> semantics (no dampening,
/// the buffer starts as the first gradient). Written out rather than borrowed so its state (the momentum buffers) can be
/// checkpointed and restored exactly. Every update is in place on the device.
/// </summary>
public sealed class SgdOptimizer : IParameterOptimizer
{
    private readonly Parameter[] _parameters;
    private readonly Tensor?[] _buffers;

    public SgdOptimizer(IEnumerable<Parameter> parameters, double learningRate, double momentum = 0, bool nesterov = false, double weightDecay = 0)
    {
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("the optimizer has no parameters to train");
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentException($"learning rate must be positive and finite, got {learningRate}");
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {momentum}");
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov momentum needs a momentum > 0");
        if (!(weightDecay >= 0)) throw new ArgumentException($"weight decay must be ≥ 0, got {weightDecay}");
        _buffers = new Tensor?[_parameters.Length];
        WeightDecay = weightDecay;
        LearningRate = learningRate;
        Momentum = momentum;
        Nesterov = nesterov;
    }

    public double LearningRate { get; }
    public double Momentum { get; }
    public bool Nesterov { get; }
    /// <summary>λ_wd added to the gradient as λ_wd·θ (PyTorch's SGD weight decay).</summary>
    public double WeightDecay { get; }
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Momentum buffers (null before the first step or without momentum), one per parameter.</summary>
    public IReadOnlyList<Tensor?> Buffers => _buffers;

    /// <summary>Drops every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            using var g = p.grad;
            if (g is not null) p.grad = null;
        }
    }

    /// <summary>One update with <see cref="LearningRate"/> from the gradients in <c>p.grad</c>; parameters without a gradient are left alone.</summary>
    public void Step() => Step(LearningRate);

    /// <summary>One update with step size <paramref name="learningRate"/> (a schedule's value).</summary>
    public void Step(double learningRate)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var scope = NewDisposeScope();
            var p = _parameters[i];
            var g = p.grad;
            if (g is null) continue;
            if (WeightDecay > 0) g = g.add(p, alpha: WeightDecay);
            if (Momentum == 0)
            {
                p.add_(g, alpha: -learningRate);
                continue;
            }
            if (_buffers[i] is null) _buffers[i] = g.detach().clone().DetachFromDisposeScope();
            else _buffers[i]!.mul_(Momentum).add_(g);
            if (Nesterov) p.add_(g.add(_buffers[i]!, alpha: Momentum), alpha: -learningRate);
            else p.add_(_buffers[i]!, alpha: -learningRate);
        }
    }

    /// <summary>Momentum buffers named by parameter position (<c>"0"</c>, <c>"1"</c>, …); absent before the first step.</summary>
    public IEnumerable<(string Name, Tensor Value)> SaveState()
    {
        for (int i = 0; i < _buffers.Length; i++)
            if (_buffers[i] is { } b) yield return (i.ToString(System.Globalization.CultureInfo.InvariantCulture), b);
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) =>
        LoadBuffers(Enumerable.Range(0, _parameters.Length)
            .Select(i => state.TryGetValue(i.ToString(System.Globalization.CultureInfo.InvariantCulture), out var b) ? b : null).ToArray());

    /// <summary>Replaces the momentum buffers (copies), e.g. from a checkpoint; null entries mean "no buffer yet".</summary>
    public void LoadBuffers(IReadOnlyList<Tensor?> buffers)
    {
        if (buffers.Count != _parameters.Length) throw new ArgumentException($"{buffers.Count} momentum buffers for {_parameters.Length} parameters");
        for (int i = 0; i < _buffers.Length; i++)
        {
            _buffers[i]?.Dispose();
            var b = buffers[i];
            if (b is not null && !b.shape.SequenceEqual(_parameters[i].shape))
                throw new ArgumentException($"momentum buffer {i} has shape [{string.Join(", ", b.shape)}], its parameter [{string.Join(", ", _parameters[i].shape)}]");
            _buffers[i] = b?.to(_parameters[i].dtype, _parameters[i].device).clone().DetachFromDisposeScope();
        }
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b?.Dispose();
    }
}
