using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>Mean and covariance of the outputs of an infinite-width ensemble on test inputs, per output.</summary>
public sealed record EnsemblePrediction(Tensor Mean, Tensor? Covariance) : IDisposable
{
    public void Dispose()
    {
        Mean.Dispose();
        Covariance?.Dispose();
    }
}

/// <summary>
/// Predictions of infinitely wide networks from their analytic kernels (conventions: src/GpuNtk/Kernels/README.md).
/// <list type="bullet">
/// <item><see cref="NngpPosterior"/>: Bayesian inference with the NNGP prior (mean and covariance).</item>
/// <item><c>NtkAtConvergence</c>: the ensemble of networks trained to convergence (t → ∞) by gradient flow on the
/// MSE from random initialisation (Lee et al. 2019, eq. 16): mean Θ*·Θ⁻¹·Y and covariance
/// K** − (Θ*·Θ⁻¹·K*ᵀ + K*·Θ⁻¹·Θ*ᵀ) + Θ*·Θ⁻¹·K·Θ⁻¹·Θ*ᵀ, with Θ the NTK and K the NNGP (test rows *).</item>
/// </list>
/// Finite training times use the linearized-dynamics predictors with the same kernels.
/// </summary>
public static class InfiniteWidthPredictor
{
    /// <summary>NNGP posterior on <paramref name="xTest"/> given (<paramref name="xTrain"/>, <paramref name="yTrain"/>).</summary>
    public static EnsemblePrediction NngpPosterior(AnalyticKernel kernel, Tensor xTrain, Tensor yTrain, Tensor xTest,
        double diagonalRegularizer = 0, bool covariance = true, AnalyticKernelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        options = (options ?? new AnalyticKernelOptions()) with { Kinds = KernelKinds.Nngp };
        using var scope = NewDisposeScope();
        var kTrain = kernel.Compute(xTrain, null, options).Nngp!;
        var kCross = kernel.Compute(xTest, xTrain, options).Nngp!;
        using var regression = KernelRegression.Fit(kTrain, yTrain, diagonalRegularizer);
        var mean = regression.PredictMean(kCross);
        Tensor? cov = null;
        if (covariance)
        {
            var kTest = kernel.Compute(xTest, null, options).Nngp!;
            cov = regression.PredictCovariance(kCross, kTest);
        }
        return new EnsemblePrediction(mean.MoveToOuterDisposeScope(), cov?.MoveToOuterDisposeScope());
    }

    /// <summary>The infinite-width ensemble trained to convergence on the MSE, from the kernels of <paramref name="kernel"/>.</summary>
    public static EnsemblePrediction NtkAtConvergence(AnalyticKernel kernel, Tensor xTrain, Tensor yTrain, Tensor xTest,
        double diagonalRegularizer = 0, bool covariance = true, AnalyticKernelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        options ??= new AnalyticKernelOptions();
        using var scope = NewDisposeScope();
        var kinds = options with { Kinds = covariance ? KernelKinds.Both : KernelKinds.Ntk };
        var train = kernel.Compute(xTrain, null, kinds);
        var cross = kernel.Compute(xTest, xTrain, kinds);
        var test = covariance ? kernel.Compute(xTest, null, options with { Kinds = KernelKinds.Nngp }).Nngp : null;
        return NtkAtConvergence(train.Ntk!, cross.Ntk!, yTrain, diagonalRegularizer,
            train.Nngp, cross.Nngp, test).MoveToOuter();
    }

    /// <summary>
    /// As above from precomputed kernels: NTK <paramref name="ntkTrain"/> <c>[N, N]</c> and <paramref name="ntkTestTrain"/>
    /// <c>[M, N]</c>; for the covariance also the NNGP blocks (all three, or none for the mean only).
    /// </summary>
    public static EnsemblePrediction NtkAtConvergence(Tensor ntkTrain, Tensor ntkTestTrain, Tensor yTrain, double diagonalRegularizer = 0,
        Tensor? nngpTrain = null, Tensor? nngpTestTrain = null, Tensor? nngpTest = null)
    {
        bool covariance = nngpTrain is not null || nngpTestTrain is not null || nngpTest is not null;
        if (covariance && (nngpTrain is null || nngpTestTrain is null || nngpTest is null))
            throw new ArgumentException("the covariance needs all three NNGP blocks (train, test×train, test); give none for the mean only");
        using var scope = NewDisposeScope();
        using var regression = KernelRegression.Fit(ntkTrain, yTrain, diagonalRegularizer);
        var mean = regression.PredictMean(ntkTestTrain);
        Tensor? cov = null;
        if (covariance)
        {
            var b = regression.Solve(ntkTestTrain.t());                // Θ⁻¹·Θ*ᵀ, [N, M]
            var crossTerm = nngpTestTrain!.matmul(b);                 // K*·Θ⁻¹·Θ*ᵀ
            cov = nngpTest! - crossTerm - crossTerm.t() + b.t().matmul(nngpTrain!).matmul(b);
        }
        return new EnsemblePrediction(mean.MoveToOuterDisposeScope(), cov?.MoveToOuterDisposeScope());
    }

    private static EnsemblePrediction MoveToOuter(this EnsemblePrediction p)
    {
        p.Mean.MoveToOuterDisposeScope();
        p.Covariance?.MoveToOuterDisposeScope();
        return p;
    }
}
