using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Ode;

/// <summary>
/// Gradient flow dθ/dt = −η·∇L(θ) on a set of parameter tensors, integrated by <see cref="DormandPrinceSolver"/> — the
/// one home of parameter-space gradient flow: the trainer's flow optimizer and the hierarchy's reference trajectory
/// use it. Time is counted in steps (src/GpuNtk/Kernels/README.md): t = k matches k gradient-descent steps of size η.
/// After <see cref="AdvanceTo"/> the parameters hold θ(t).
/// </summary>
public sealed class ParameterGradientFlow : IDisposable
{
    private readonly IReadOnlyList<Tensor> _parameters;
    private readonly Func<Tensor[]> _gradient;
    private readonly double _learningRate;
    private readonly DormandPrinceSolver _solver;

    /// <param name="parameters">θ: integrated in place (their values at construction are θ(t0)).</param>
    /// <param name="gradient">
    /// ∇L at the parameters' current values, one tensor per parameter (zeros where L does not depend on it); the flow
    /// takes ownership of the returned tensors.
    /// </param>
    /// <param name="learningRate">η, positive and finite.</param>
    /// <param name="t0">The time θ is at (non-zero when resuming).</param>
    /// <param name="options">Solver tolerances and steps.</param>
    public ParameterGradientFlow(IReadOnlyList<Tensor> parameters, Func<Tensor[]> gradient, double learningRate, double t0 = 0, OdeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _gradient = gradient ?? throw new ArgumentNullException(nameof(gradient));
        if (!(learningRate > 0) || double.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "η must be positive and finite");
        _parameters = parameters;
        _learningRate = learningRate;
        _solver = new DormandPrinceSolver(Derivative, parameters, t0, options);
    }

    public double Time => _solver.Time;
    public long AcceptedSteps => _solver.AcceptedSteps;
    public long FunctionEvaluations => _solver.FunctionEvaluations;
    /// <summary>The step size the solver will try next (keep it to resume with the same steps).</summary>
    public double StepSize => _solver.StepSize;

    /// <summary>Integrates to <paramref name="time"/> and writes θ(time) into the parameters.</summary>
    public void AdvanceTo(double time, CancellationToken cancellation = default)
    {
        _solver.AdvanceTo(time, cancellation);
        Load(_solver.State);
    }

    private Tensor[] Derivative(double t, IReadOnlyList<Tensor> theta)
    {
        Load(theta);
        var grads = _gradient();
        foreach (var g in grads) g.mul_(-_learningRate);
        return grads;
    }

    private void Load(IReadOnlyList<Tensor> theta)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Count; i++) _parameters[i].copy_(theta[i]);
    }

    public void Dispose() => _solver.Dispose();
}
