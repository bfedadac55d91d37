namespace GpuNtk.Dynamics.Predictors;

/// <summary>Continuous-time or step-by-step training.</summary>
public enum TrainingProcess
{
    /// <summary>
    /// Gradient flow dθ/dt = −η∇L (time t in steps); with momentum β the heavy-ball ODE
    /// θ'' + (1 − β)·θ' = −η∇L, the continuous limit of momentum SGD used by Neural Tangents (there in units of √η).
    /// </summary>
    GradientFlow,
    /// <summary>
    /// Full-batch gradient descent θ_{k+1} = θ_k − η∇L(θ_k), t = k an integer; with momentum β, PyTorch's heavy ball
    /// v_{k+1} = β·v_k + ∇L(θ_k), θ_{k+1} = θ_k − η·v_{k+1} (v_0 = 0, no dampening, not Nesterov).
    /// </summary>
    GradientDescent,
}

/// <summary>
/// Which training process the MSE and ensemble predictors model, and how the train×train kernel is regularized.
/// </summary>
/// <param name="Process">Continuous (gradient flow) or discrete (gradient descent) time.</param>
/// <param name="Momentum">Heavy-ball momentum β in [0, 1); 0 is plain gradient flow / descent.</param>
/// <param name="DiagonalRegularization">r ≥ 0: the dynamics use Θ + r·I instead of Θ (as in Neural Tangents), which
/// makes t = ∞ well defined for a singular Θ (kernel ridge regression).</param>
/// <param name="AbsoluteRegularization">false: r is relative to the mean diagonal of Θ; true: r is in Θ's units.</param>
public sealed record DynamicsOptions(
    TrainingProcess Process = TrainingProcess.GradientFlow,
    double Momentum = 0,
    double DiagonalRegularization = 0,
    bool AbsoluteRegularization = false)
{
    public void Validate()
    {
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {Momentum}");
        if (!(DiagonalRegularization >= 0) || double.IsInfinity(DiagonalRegularization))
            throw new ArgumentException($"the diagonal regularization must be finite and ≥ 0, got {DiagonalRegularization}");
        if (!Enum.IsDefined(Process)) throw new ArgumentException($"unknown training process {Process}");
    }
}
