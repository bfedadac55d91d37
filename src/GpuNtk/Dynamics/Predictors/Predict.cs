using GpuNtk.Dynamics.Ode;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// Function-space predictors in the style of Neural Tangents' <c>predict</c> module: each function takes the
/// train×train kernel and targets once and returns a predictor that caches the factorization and answers for any
/// time, initial outputs and test set.
/// <para>
/// Conventions (stated once, in src/GpuNtk/Kernels/README.md, shared with the trainer): kernels are traced
/// <c>[N, N]</c> (Θ ⊗ I_O) or full <c>[N, N, O, O]</c> (also accepted flattened <c>[N·O, N·O]</c>, example-major);
/// MSE = 1/(2·N·O)·‖f − y‖²; gradient flow dθ/dt = −η∇L with t counted in steps, so
/// df/dt = −(η/(N·O))·Θ·(f − y); η_max = 2·N·O/λ_max(Θ)·(1 + β) (<see cref="LearningRateLimit"/>).
/// Targets are <c>[N, O]</c> (or <c>[N]</c> for O = 1). Nothing is copied to the host; results live on the kernel's device.
/// </para>
/// </summary>
public static class Predict
{
    /// <summary>
    /// Closed-form MSE dynamics: gradient flow (default), gradient descent, heavy-ball momentum in either, and t = ∞.
    /// </summary>
    public static MsePredictor GradientDescentMse(Tensor kTrainTrain, Tensor yTrain, double learningRate, DynamicsOptions? options = null)
    {
        options ??= new DynamicsOptions();
        options.Validate();
        CheckLearningRate(learningRate);
        return new MsePredictor(new TrainSetKernel(kTrainTrain, yTrain, options.DiagonalRegularization, options.AbsoluteRegularization,
                                                nameof(kTrainTrain)), learningRate, options);
    }

    /// <summary>
    /// Gradient flow (optionally heavy-ball, momentum β) on any loss, integrated by <see cref="DormandPrinceSolver"/>.
    /// </summary>
    public static OdePredictor GradientDescent(OutputLoss loss, Tensor kTrainTrain, Tensor yTrain, double learningRate, double momentum = 0,
                                               OdeOptions? ode = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        CheckLearningRate(learningRate);
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {momentum}", nameof(momentum));
        return new OdePredictor(new TrainSetKernel(kTrainTrain, yTrain, 0, false, nameof(kTrainTrain)), loss, learningRate, momentum, ode);
    }

    /// <summary>
    /// Mean and covariance over initializations of the MSE dynamics from the NTK and the NNGP kernel (Lee et al. 2019).
    /// </summary>
    public static EnsemblePredictor GradientDescentMseEnsemble(Tensor ntkTrainTrain, Tensor nngpTrainTrain, Tensor yTrain, double learningRate,
                                                               DynamicsOptions? options = null)
    {
        options ??= new DynamicsOptions();
        options.Validate();
        CheckLearningRate(learningRate);
        var ntk = new TrainSetKernel(ntkTrainTrain, yTrain, options.DiagonalRegularization, options.AbsoluteRegularization, nameof(ntkTrainTrain));
        try
        {
            var nngp = new TrainSetKernel(nngpTrainTrain, yTrain, 0, false, nameof(nngpTrainTrain));
            return new EnsemblePredictor(ntk, nngp, learningRate, options);
        }
        catch
        {
            ntk.Dispose();
            throw;
        }
    }

    /// <summary>η_max = 2·N·O/λ_max(Θ)·(1 + β) for the kernel <paramref name="kTrainTrain"/> and targets <c>[N, O]</c>.</summary>
    public static double MaxLearningRate(Tensor kTrainTrain, Tensor yTrain, double momentum = 0)
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {momentum}", nameof(momentum));
        using var kernel = new TrainSetKernel(kTrainTrain, yTrain, 0, false, nameof(kTrainTrain));
        using var scope = NewDisposeScope();
        double lambdaMax = linalg.eigvalsh(kernel.Matrix)[-1].to(ScalarType.Float64).item<double>();
        return LearningRateLimit.ForMse(lambdaMax, kernel.Examples, kernel.Outputs, momentum);
    }

    private static void CheckLearningRate(double learningRate)
    {
        if (!(learningRate > 0) || double.IsInfinity(learningRate))
            throw new ArgumentException($"the learning rate must be positive and finite, got {learningRate}", nameof(learningRate));
    }
}
