using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Kernel regression with a fixed kernel K on a training set (X, Y): the mean prediction
/// f(X*) = K(X*, X)·(K(X, X) + λ·I)⁻¹·Y and, when K is a GP prior covariance (the NNGP), the posterior covariance
/// K(X*, X*) − K(X*, X)·(K(X, X) + λ·I)⁻¹·K(X, X*).
/// <para>
/// With the infinite-width NTK this is the mean output of infinitely wide networks trained to convergence by gradient
/// flow on the MSE (outputs at initialisation averaged out); with the NNGP it is exact Bayesian inference in the
/// infinite-width prior. The regulariser is relative, λ = <c>diagonalRegularizer</c> × mean(diag K(X, X)), so one
/// value fits kernels of any scale (as neural-tangents' <c>diag_reg</c>). The Cholesky factor is computed once in
/// <see cref="Fit"/> and reused by every prediction.
/// </para>
/// </summary>
public sealed class KernelRegression : IDisposable
{
    private readonly Tensor _cholesky;
    private readonly Tensor _alpha;
    private readonly bool _vectorTargets;

    private KernelRegression(Tensor cholesky, Tensor alpha, bool vectorTargets, double lambda)
    {
        _cholesky = cholesky;
        _alpha = alpha;
        _vectorTargets = vectorTargets;
        Lambda = lambda;
    }

    /// <summary>The absolute diagonal shift λ that was added to K(X, X).</summary>
    public double Lambda { get; }

    /// <summary>Training examples N.</summary>
    public long TrainingSize => _alpha.shape[0];

    /// <summary>
    /// Factorises K(X, X) + λ·I for targets <paramref name="yTrain"/> (<c>[N]</c> or <c>[N, O]</c>). Throws naming
    /// the remedy when the matrix is not positive definite.
    /// </summary>
    public static KernelRegression Fit(Tensor kTrainTrain, Tensor yTrain, double diagonalRegularizer = 0)
    {
        ArgumentNullException.ThrowIfNull(kTrainTrain);
        ArgumentNullException.ThrowIfNull(yTrain);
        if (kTrainTrain.dim() != 2 || kTrainTrain.shape[0] != kTrainTrain.shape[1])
            throw new ArgumentException($"K(train, train) has shape [{string.Join(", ", kTrainTrain.shape)}]; expected a square [N, N]", nameof(kTrainTrain));
        long n = kTrainTrain.shape[0];
        if (yTrain.dim() is < 1 or > 2 || yTrain.shape[0] != n)
            throw new ArgumentException($"targets have shape [{string.Join(", ", yTrain.shape)}]; expected [{n}] or [{n}, O]", nameof(yTrain));
        if (!(diagonalRegularizer >= 0) || double.IsInfinity(diagonalRegularizer))
            throw new ArgumentException($"diagonal regularizer {diagonalRegularizer}: use a finite value ≥ 0", nameof(diagonalRegularizer));

        using var scope = NewDisposeScope();
        double lambda = diagonalRegularizer * kTrainTrain.diagonal().mean().item<double>();
        var a = lambda > 0 ? kTrainTrain + eye(n, dtype: kTrainTrain.dtype, device: kTrainTrain.device) * lambda : kTrainTrain;
        var (l, info) = linalg.cholesky_ex(a);
        int failedMinor = info.item<int>();
        if (failedMinor > 0)
            throw new ArgumentException($"K(train, train) + λI (λ = {lambda:G4}) is not positive definite (leading minor {failedMinor} of {n}); " +
                                        "increase the diagonal regularizer (e.g. 1e-6 relative) or compute the kernel in float64");
        var y = yTrain.dim() == 1 ? yTrain.unsqueeze(1) : yTrain;
        var alpha = cholesky_solve(y.to(l.dtype), l);
        return new KernelRegression(l.MoveToOuterDisposeScope(), alpha.MoveToOuterDisposeScope(), yTrain.dim() == 1, lambda);
    }

    /// <summary>(K(X, X) + λ·I)⁻¹·Y, <c>[N, O]</c>.</summary>
    public Tensor Weights => _alpha;

    /// <summary>Mean prediction K(X*, X)·(K + λI)⁻¹·Y for <paramref name="kTestTrain"/> <c>[M, N]</c>: <c>[M]</c> or <c>[M, O]</c>.</summary>
    public Tensor PredictMean(Tensor kTestTrain)
    {
        ValidateCross(kTestTrain);
        var mean = kTestTrain.matmul(_alpha);
        if (!_vectorTargets) return mean;
        using (mean) return mean.squeeze(1);
    }

    /// <summary>
    /// Posterior covariance K(X*, X*) − K(X*, X)·(K + λI)⁻¹·K(X, X*), <c>[M, M]</c> (per output; the outputs are
    /// independent with identical covariance). Meaningful when K is the NNGP.
    /// </summary>
    public Tensor PredictCovariance(Tensor kTestTrain, Tensor kTestTest)
    {
        ValidateCross(kTestTrain);
        using var scope = NewDisposeScope();
        // K*·A⁻¹·K*ᵀ = VᵀV with V = L⁻¹·K*ᵀ: symmetric by construction.
        var v = linalg.solve_triangular(_cholesky, kTestTrain.t(), upper: false);
        return (kTestTest - v.t().matmul(v)).MoveToOuterDisposeScope();
    }

    /// <summary>(K + λI)⁻¹·B for a right-hand side <c>[N, …]</c>, with the cached factor.</summary>
    public Tensor Solve(Tensor rightHandSide) => cholesky_solve(rightHandSide, _cholesky);

    private void ValidateCross(Tensor kTestTrain)
    {
        ArgumentNullException.ThrowIfNull(kTestTrain);
        if (kTestTrain.dim() != 2 || kTestTrain.shape[1] != TrainingSize)
            throw new ArgumentException($"K(test, train) has shape [{string.Join(", ", kTestTrain.shape)}]; expected [M, {TrainingSize}]", nameof(kTestTrain));
    }

    public void Dispose()
    {
        _cholesky.Dispose();
        _alpha.Dispose();
    }
}
