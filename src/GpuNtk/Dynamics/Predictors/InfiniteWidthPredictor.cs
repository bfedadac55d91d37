using GpuNtk.Kernels.Analytic;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// Predictions of infinitely wide networks straight from inputs: the analytic kernels of an architecture
/// (<see cref="AnalyticKernel"/>) fed to the function-space predictors. Traced kernels, per output (Θ ⊗ I_O).
/// <list type="bullet">
/// <item><see cref="Ensemble"/>: the distribution over random initialisations of infinitely wide networks trained on the
/// MSE (Lee et al. 2019): mean and covariance at time t (steps), t = ∞ included — <see cref="EnsemblePredictor"/>.</item>
/// <item><see cref="NngpPosterior"/>: exact Bayesian inference with the NNGP prior — <see cref="KernelRegression"/>.</item>
/// </list>
/// </summary>
public static class InfiniteWidthPredictor
{
    /// <summary>
    /// Mean <c>[M, O]</c> and covariance <c>[M, M]</c> over initialisations of the infinite-width network on
    /// <paramref name="xTest"/> after training on (<paramref name="xTrain"/>, <paramref name="yTrain"/>) for
    /// <paramref name="t"/> steps at learning rate <paramref name="learningRate"/> (<see cref="double.PositiveInfinity"/>:
    /// to convergence). <paramref name="covariance"/> false skips the test×test kernel.
    /// </summary>
    public static Gaussian Ensemble(AnalyticKernel kernel, Tensor xTrain, Tensor yTrain, Tensor xTest, double learningRate, double t,
        DynamicsOptions? dynamics = null, bool covariance = true, AnalyticKernelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        options ??= new AnalyticKernelOptions();
        using var scope = NewDisposeScope();
        var train = kernel.Compute(xTrain, null, options with { Kinds = KernelKinds.Both });
        var cross = kernel.Compute(xTest, xTrain, options with { Kinds = KernelKinds.Both });
        var test = covariance ? kernel.Compute(xTest, null, options with { Kinds = KernelKinds.Nngp }).Nngp : null;
        using var predictor = Predict.GradientDescentMseEnsemble(train.Ntk!, train.Nngp!, yTrain, learningRate, dynamics);
        var result = double.IsPositiveInfinity(t)
            ? predictor.AtInfinity(cross.Ntk!, cross.Nngp!, test)
            : predictor.At(t, cross.Ntk!, cross.Nngp!, test);
        result.Mean.MoveToOuterDisposeScope();
        result.Covariance?.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// The NNGP posterior on <paramref name="xTest"/>: mean <c>[M, O]</c> (or <c>[M]</c>) and covariance <c>[M, M]</c>;
    /// <paramref name="diagonalRegularizer"/> is the observation-noise variance relative to the mean prior variance.
    /// </summary>
    public static Gaussian NngpPosterior(AnalyticKernel kernel, Tensor xTrain, Tensor yTrain, Tensor xTest,
        double diagonalRegularizer = 0, bool covariance = true, AnalyticKernelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        options = (options ?? new AnalyticKernelOptions()) with { Kinds = KernelKinds.Nngp };
        using var scope = NewDisposeScope();
        var kTrain = kernel.Compute(xTrain, null, options).Nngp!;
        var kCross = kernel.Compute(xTest, xTrain, options).Nngp!;
        using var regression = KernelRegression.Fit(kTrain, yTrain, diagonalRegularizer);
        var mean = regression.PredictMean(kCross);
        var cov = covariance ? regression.PredictCovariance(kCross, kernel.Compute(xTest, null, options).Nngp!) : null;
        return new Gaussian(mean.MoveToOuterDisposeScope(), cov?.MoveToOuterDisposeScope());
    }
}
