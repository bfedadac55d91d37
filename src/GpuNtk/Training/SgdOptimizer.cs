using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// SGD with optional heavy-ball or Nesterov momentum, with PyTorch's <c>torch.optim.SGD</c> semantics (no dampening,
/// the buffer starts as the first gradient). Written out rather than borrowed so its state (the momentum buffers) can be
/// checkpointed and restored exactly. Every update is in place on the device.
/// </summary>
public sealed class SgdOptimizer : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor?[] _buffers;

    public SgdOptimizer(IEnumerable<Parameter> parameters, double learningRate, double momentum = 0, bool nesterov = false)
    {
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("the optimizer has no parameters to train");
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentException($"learning rate must be positive and finite, got {learningRate}");
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {momentum}");
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov momentum needs a momentum > 0");
        _buffers = new Tensor?[_parameters.Length];
        LearningRate = learningRate;
        Momentum = momentum;
        Nesterov = nesterov;
    }

    public double LearningRate { get; }
    public double Momentum { get; }
    public bool Nesterov { get; }
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

    /// <summary>One update from the gradients in <c>p.grad</c>; parameters without a gradient are left alone.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            using var g = p.grad;
            if (g is null) continue;
            if (Momentum == 0)
            {
                p.add_(g, alpha: -LearningRate);
                continue;
            }
            if (_buffers[i] is null) _buffers[i] = g.detach().clone().DetachFromDisposeScope();
            else _buffers[i]!.mul_(Momentum).add_(g);
            if (Nesterov) p.add_(g.add(_buffers[i]!, alpha: Momentum), alpha: -LearningRate);
            else p.add_(_buffers[i]!, alpha: -LearningRate);
        }
    }

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
