namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// The largest stable learning rate of full-batch gradient descent, η_max = 2·N·O/λ_max(Θ) for the MSE
/// (src/GpuNtk/Kernels/README.md) — the one home of this formula: the closed-form predictors, the trainer's step-size
/// guide and the linearization sweep call it.
/// </summary>
/// <remarks>
/// In general η_max = 2/(c·λ_max) with c the loss's curvature in function space (<see cref="OutputLoss.InverseCurvature"/>
/// gives 1/c: N·O for the MSE). On a quadratic loss the bound is exact; heavy-ball momentum β
/// (v ← βv + g, θ ← θ − ηv) multiplies it by (1+β), Nesterov (PyTorch form: θ ← θ − η(g + βv)) by (1+β)/(1+2β).
/// Gradient flow has no step-size limit.
/// </remarks>
public static class LearningRateLimit
{
    /// <summary>η_max = 2·<paramref name="inverseCurvature"/>/λ_max, times the momentum factor.</summary>
    /// <param name="lambdaMax">λ_max of the full NTK <c>[N·O, N·O]</c> on the training set.</param>
    /// <param name="inverseCurvature">1/c, the loss's inverse curvature in function space (N·O for the MSE).</param>
    /// <param name="momentum">β in [0, 1); 0 is plain gradient descent.</param>
    /// <param name="nesterov">Nesterov momentum instead of heavy-ball.</param>
    public static double Max(double lambdaMax, double inverseCurvature, double momentum = 0, bool nesterov = false)
    {
        double gd = 2.0 * inverseCurvature / lambdaMax;
        // A quadratic of curvature h is stable for η·h < 2(1+β) (heavy-ball), 2(1+β)/(1+2β) (Nesterov).
        return nesterov ? gd * (1 + momentum) / (1 + 2 * momentum) : gd * (1 + momentum);
    }

    /// <summary>η_max = 2·N·O/λ_max·(1+β) for the MSE on <paramref name="examples"/> examples with <paramref name="outputs"/> outputs.</summary>
    public static double ForMse(double lambdaMax, long examples, long outputs, double momentum = 0, bool nesterov = false) =>
        Max(lambdaMax, OutputLoss.MeanSquaredError.InverseCurvature(examples, outputs), momentum, nesterov);
}
