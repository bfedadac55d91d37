using GpuNtk.Kernels.Autograd;
using GpuNtk.Dynamics.Predictors;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// The trainer's step-size guide in its own terms (<see cref="LossKind"/>, <see cref="OptimizerKind"/>): λ_max from
/// <see cref="NtkEigenvalue"/> and η_max from <see cref="LearningRateLimit"/>, the formulas' one home each
/// (conventions: src/GpuNtk/Kernels/README.md). For cross-entropy at initialisation (near-uniform softmax) the loss
/// curvature in function space is also 1/(N·O) per output, so the MSE formula is the estimate; with one output
/// (logistic loss) it is 1/(4N). Gradient flow has no step-size limit.
/// </summary>
public static class LearningRateSafety
{
    /// <summary>
    /// λ_max of the full NTK <c>[N·O, N·O]</c> of <paramref name="model"/> on <paramref name="x"/> by power iteration on
    /// Θ·v = J·(Jᵀ·v), never forming J or Θ (<see cref="NtkEigenvalue.Largest"/>).
    /// </summary>
    public static double LargestNtkEigenvalue(nn.Module<Tensor, Tensor> model, Tensor x, int maxIterations = 20, double tolerance = 1e-3, long seed = 0) =>
        NtkEigenvalue.Largest(model, x, maxIterations, tolerance, seed);

    /// <summary>
    /// η_max for <paramref name="optimizer"/> given λ_max of the full NTK on <paramref name="examples"/> examples with
    /// <paramref name="outputs"/> outputs: 2/(c·λ_max) with c the loss curvature in function space (1/(N·O) for MSE),
    /// times (1+β) for heavy-ball and (1+β)/(1+2β) for Nesterov (exact bounds for a quadratic loss). Infinite for flow.
    /// </summary>
    public static double MaxLearningRate(double lambdaMax, long examples, long outputs, LossKind loss, OptimizerKind optimizer, double momentum)
    {
        if (optimizer == OptimizerKind.Flow) return double.PositiveInfinity;
        bool heavyBall = optimizer is OptimizerKind.Momentum or OptimizerKind.Nesterov;
        return LearningRateLimit.Max(lambdaMax, loss.ToOutputLoss().InverseCurvature(examples, outputs), heavyBall ? momentum : 0,
                                     nesterov: optimizer == OptimizerKind.Nesterov);
    }
}
