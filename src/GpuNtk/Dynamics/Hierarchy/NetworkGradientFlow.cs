using GpuNtk.Dynamics.Ode;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The real network trained by gradient flow dθ/dt = −η∇L, L = 1/(2·N·O)·‖f(X; θ) − Y‖² (src/GpuNtk/Kernels/README.md),
/// integrated with <see cref="DormandPrinceSolver"/> on the flat parameter vector — the reference trajectory the
/// truncated hierarchy is compared with. After <see cref="AdvanceTo"/> the model holds θ(t).
/// </summary>
public sealed class NetworkGradientFlow : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly ParameterVector _theta;
    private readonly Tensor _inputs;
    private readonly Tensor _targets;
    private readonly double _rate;
    private readonly DormandPrinceSolver _solver;

    /// <param name="model">Trained in place (its trainable parameters follow θ(t)).</param>
    /// <param name="inputs">X, <c>[N, …]</c>.</param>
    /// <param name="targets">Y with the model's output shape <c>[N, O]</c> (or <c>[N]</c> for O = 1).</param>
    /// <param name="learningRate">η.</param>
    /// <param name="ode">Solver tolerances; default 1e-9 relative.</param>
    public NetworkGradientFlow(nn.Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, double learningRate = 1.0, OdeOptions? ode = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "η must be positive and finite");
        _theta = ParameterVector.Of(model);
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            var f = model.forward(inputs);
            if (f.numel() != targets.numel() || f.shape[0] != targets.shape[0])
                throw new ArgumentException($"targets [{string.Join(", ", targets.shape)}] do not match the model's outputs [{string.Join(", ", f.shape)}]", nameof(targets));
        }
        _inputs = inputs.detach().DetachFromDisposeScope();
        _targets = targets.detach().clone().DetachFromDisposeScope();
        _rate = learningRate;
        using var theta0 = _theta.Flatten();
        _solver = new DormandPrinceSolver(Derivative, [theta0], 0, ode ?? new OdeOptions(1e-9, 1e-12));
    }

    public double Time => _solver.Time;
    public long Steps => _solver.AcceptedSteps;

    /// <summary>Integrates to <paramref name="time"/> and writes θ(time) into the model.</summary>
    public void AdvanceTo(double time, CancellationToken cancellation = default)
    {
        _solver.AdvanceTo(time, cancellation);
        _theta.Assign(_solver.State[0]);
    }

    /// <summary>L(θ(t)) with the current parameters of the model.</summary>
    public double Loss()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return LossOf(_model.forward(_inputs)).item<double>();
    }

    private Tensor LossOf(Tensor f) => f.reshape(_targets.shape).sub(_targets).square().sum().div(2.0 * _targets.numel());

    private Tensor[] Derivative(double t, IReadOnlyList<Tensor> y)
    {
        _theta.Assign(y[0]);
        var loss = LossOf(_model.forward(_inputs));
        var grads = autograd.grad([loss], _theta.Entries.Select(e => (Tensor)e.Parameter).ToArray(), allow_unused: true);
        var flat = cat(grads.Select((g, i) => (g is { IsInvalid: false } ? g : zeros_like(_theta.Entries[i].Parameter)).reshape(-1)).ToArray());
        return [flat.mul_(-_rate)];
    }

    public void Dispose()
    {
        _solver.Dispose();
        _inputs.Dispose();
        _targets.Dispose();
    }
}
