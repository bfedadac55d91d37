using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// The largest stable learning rate from the top eigenvalue of the full NTK. For MSE, full-batch gradient descent on N
/// examples with O outputs is stable while η &lt; η_max = 2·N·O/λ_max(Θ) (src/GpuNtk/Kernels/README.md); heavy-ball
/// momentum β multiplies that by (1+β), Nesterov (PyTorch form) by (1+β)/(1+2β) (exact bounds on a quadratic loss).
/// For cross-entropy at initialisation (near-uniform softmax) the loss curvature in function space is also 1/(N·O) per
/// output, so the same formula is the estimate; with one output (logistic loss) it is 1/(4N). Gradient flow has no
/// step-size limit.
/// </summary>
public static class LearningRateSafety
{
    /// <summary>
    /// λ_max of the full NTK <c>[N·O, N·O]</c> of <paramref name="model"/> on <paramref name="x"/> by power iteration on
    /// Θ·v = J·(Jᵀ·v): Jᵀv is a VJP, J·w a JVP by double backward. Never forms J or Θ.
    /// </summary>
    /// <remarks>
    /// The result is a Rayleigh quotient, so it approaches λ_max from below; near-degenerate top eigenvalues (one per
    /// output at large width) make the last digits converge slowly, but the first two come within a few iterations —
    /// enough for a step-size guide. Pass a small <paramref name="tolerance"/> and many iterations for an exact value.
    /// </remarks>
    public static double LargestNtkEigenvalue(nn.Module<Tensor, Tensor> model, Tensor x, int maxIterations = 20, double tolerance = 1e-3, long seed = 0)
    {
        var ps = model.parameters().Where(p => p.requires_grad).ToArray();
        if (ps.Length == 0) throw new ArgumentException("the model has no trainable parameters");
        using var scope = NewDisposeScope();
        var f = model.forward(x);
        // g(u) = Jᵀu, linear in u; differentiating ⟨g(u), w⟩ with respect to u gives J·w.
        var u = zeros_like(f).requires_grad_(true);
        var jtu = autograd.grad([f], ps, [u], retain_graph: true, create_graph: true);
        using var generator = new Generator((ulong)seed);
        var v = randn(f.shape, ScalarType.Float64, generator: generator).to(f.dtype, f.device);
        v.div_(v.norm());
        double lambda = 0;
        for (int it = 0; it < maxIterations; it++)
        {
            using var inner = NewDisposeScope();
            var w = autograd.grad([f], ps, [v], retain_graph: true);
            var thetaV = autograd.grad(jtu, [u], w, retain_graph: true)[0].detach();
            double next = thetaV.mul(v).sum().to(ScalarType.Float64).item<double>();
            var norm = thetaV.norm();
            v = thetaV.div(norm).MoveToOuterDisposeScope();
            bool converged = it > 0 && Math.Abs(next - lambda) <= tolerance * Math.Abs(next);
            lambda = next;
            if (converged) break;
        }
        return lambda;
    }

    /// <summary>
    /// η_max for <paramref name="optimizer"/> given λ_max of the full NTK on <paramref name="examples"/> examples with
    /// <paramref name="outputs"/> outputs: 2/(c·λ_max) with c the loss curvature in function space (1/(N·O) for MSE),
    /// times (1+β) for heavy-ball and (1+β)/(1+2β) for Nesterov (exact bounds for a quadratic loss). Infinite for flow.
    /// </summary>
    public static double MaxLearningRate(double lambdaMax, long examples, long outputs, LossKind loss, OptimizerKind optimizer, double momentum)
    {
        if (optimizer == OptimizerKind.Flow) return double.PositiveInfinity;
        double curvature = loss == LossKind.CrossEntropy && outputs == 1 ? 1.0 / (4 * examples) : 1.0 / (examples * outputs);
        double gd = 2 / (curvature * lambdaMax);
        return optimizer switch
        {
            // Heavy-ball on a quadratic of curvature h is stable for η·h < 2(1+β).
            OptimizerKind.Momentum => gd * (1 + momentum),
            // Nesterov (v ← βv + g, θ ← θ − η(g + βv)) is stable for η·h < 2(1+β)/(1+2β).
            OptimizerKind.Nesterov => gd * (1 + momentum) / (1 + 2 * momentum),
            _ => gd,
        };
    }
}
