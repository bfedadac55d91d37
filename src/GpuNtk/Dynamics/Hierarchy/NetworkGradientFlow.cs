using GpuNtk.Dynamics.Ode;
using GpuNtk.Dynamics.Predictors;
using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The real network trained by gradient flow dθ/dt = −η∇L, L = 1/(2·N·O)·‖f(X; θ) − Y‖² (src/GpuNtk/Kernels/README.md),
/// integrated as a <see cref="ParameterGradientFlow"/> — the reference trajectory the truncated hierarchy is compared
/// with. After <see cref="AdvanceTo"/> the model holds θ(t).
/// </summary>
public sealed class NetworkGradientFlow : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly Tensor[] _parameters;
    private readonly Tensor _inputs;
    private readonly Tensor _targets;
    private readonly ParameterGradientFlow _flow;

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
        _parameters = ParameterVector.Of(model).Entries.Select(e => (Tensor)e.Parameter).ToArray();
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            var f = model.forward(inputs);
            if (f.numel() != targets.numel() || f.shape[0] != targets.shape[0])
                throw new ArgumentException($"targets [{string.Join(", ", targets.shape)}] do not match the model's outputs [{string.Join(", ", f.shape)}]", nameof(targets));
        }
        _inputs = inputs.detach().DetachFromDisposeScope();
        _targets = targets.detach().clone().DetachFromDisposeScope();
        _flow = new ParameterGradientFlow(_parameters, Gradient, learningRate, 0, ode ?? new OdeOptions(1e-9, 1e-12));
    }

    public double Time => _flow.Time;
    public long Steps => _flow.AcceptedSteps;

    /// <summary>Integrates to <paramref name="time"/> and writes θ(time) into the model.</summary>
    public void AdvanceTo(double time, CancellationToken cancellation = default) => _flow.AdvanceTo(time, cancellation);

    /// <summary>L(θ(t)) with the current parameters of the model.</summary>
    public double Loss()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return LossOf(_model.forward(_inputs)).item<double>();
    }

    private Tensor LossOf(Tensor f) => OutputLoss.MeanSquaredError.Value(f.reshape(_targets.shape), _targets);

    private Tensor[] Gradient() => ParameterGradients.Of([LossOf(_model.forward(_inputs))], _parameters);

    public void Dispose()
    {
        _flow.Dispose();
        _inputs.Dispose();
        _targets.Dispose();
    }
}
