using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// The distribution of outputs over random initializations of infinitely wide networks trained on MSE (Lee et al.
/// 2019, §2.3 eq. 15–16): with f_0 ~ GP(0, K) (K = NNGP) and the NTK Θ fixed, the linearized outputs are Gaussian with
/// <code>μ_t(x) = Θ(x, X)·B_t·Y
/// Σ_t(x, x') = K(x, x') + Θ(x, X)·B_t·K(X, X)·B_t·Θ(X, x') − (Θ(x, X)·B_t·K(X, x') + transpose)</code>
/// where B_t = Θ⁻¹(I − e^{−ηΘt/(N·O)}) for gradient flow — in general B_t = −V·diag(a_t)·Vᵀ with the per-mode
/// coefficients of <see cref="ModeCoefficients"/>, so gradient descent and momentum work too, and B_∞ = (Θ + rI)⁻¹.
/// Kernels are tensors, so infinite-width (analytic) kernels and finite-width empirical ones plug in alike; NTK and
/// NNGP must share one layout (traced <c>[N, N]</c> or full). Made by <see cref="Predict.GradientDescentMseEnsemble"/>.
/// </summary>
public sealed class EnsemblePredictor : IDisposable
{
    private readonly TrainSetKernel _ntk;
    private readonly TrainSetKernel _nngp;

    internal EnsemblePredictor(TrainSetKernel ntk, TrainSetKernel nngp, double learningRate, DynamicsOptions options)
    {
        if (ntk.IsTraced != nngp.IsTraced)
            throw new ArgumentException("the NTK and NNGP train×train kernels must have the same layout (both traced [N, N] or both full)");
        _ntk = ntk;
        _nngp = nngp;
        LearningRate = learningRate;
        Options = options;
    }

    public double LearningRate { get; }
    public DynamicsOptions Options { get; }

    /// <summary>
    /// Mean <c>[M, O]</c> and, when <paramref name="nngpTestTest"/> is given, covariance over initializations at time
    /// <paramref name="t"/> (steps) on a test set. For the training set pass the train kernels as the test kernels.
    /// </summary>
    public Gaussian At(double t, Tensor ntkTestTrain, Tensor nngpTestTrain, Tensor? nngpTestTest = null)
    {
        ModeCoefficients.CheckTimes([t], Options.Process);
        using var scope = NewDisposeScope();
        var (lambda, v) = _ntk.Eigen;
        var (_, a) = ModeCoefficients.Compute(lambda, [t], LearningRate, _ntk.Examples * _ntk.Outputs, Options);
        var b = v.mul(a[0].neg()).matmul(v.t()); // B_t = −V·diag(a)·Vᵀ
        return Moments(b, ntkTestTrain, nngpTestTrain, nngpTestTest).MoveTo();
    }

    /// <summary>The t = ∞ moments, B = (Θ + rI)⁻¹ by a Cholesky solve.</summary>
    public Gaussian AtInfinity(Tensor ntkTestTrain, Tensor nngpTestTrain, Tensor? nngpTestTest = null)
    {
        using var scope = NewDisposeScope();
        var b = _ntk.Solve(eye(_ntk.Size, dtype: _ntk.DType, device: _ntk.Device));
        return Moments(b, ntkTestTrain, nngpTestTrain, nngpTestTest).MoveTo();
    }

    private (Tensor Mean, Tensor? Covariance) Moments(Tensor b, Tensor ntkTestTrain, Tensor nngpTestTrain, Tensor? nngpTestTest)
    {
        var (theta, m) = _ntk.TestMatrix(ntkTestTrain, nameof(ntkTestTrain));
        var (k, m2) = _nngp.TestMatrix(nngpTestTrain, nameof(nngpTestTrain));
        if (m2 != m) throw new ArgumentException($"the NTK test×train kernel has {m} test examples but the NNGP one has {m2}", nameof(nngpTestTrain));
        var thetaB = theta.matmul(b); // [m, n]
        var mean = _ntk.FromColumns(thetaB.matmul(_ntk.Targets), m);
        if (nngpTestTest is null) return (mean, null);
        var kss = _ntk.TestTestMatrix(nngpTestTest, m, nameof(nngpTestTest));
        var cross = thetaB.matmul(k.t()); // Θ*·B·K(X, x')
        var cov = kss.sub(cross).sub_(cross.t()).add_(thetaB.matmul(_nngp.Matrix).matmul(thetaB.t()));
        cov = cov.add(cov.t()).mul_(0.5);
        if (!_ntk.IsTraced) cov = TrainSetKernel.Unflatten(cov, _ntk.Outputs);
        return (mean, cov);
    }

    public void Dispose()
    {
        _ntk.Dispose();
        _nngp.Dispose();
    }
}

internal static class MomentExtensions
{
    public static Gaussian MoveTo(this (Tensor Mean, Tensor? Covariance) m) =>
        new(m.Mean.MoveToOuterDisposeScope(), m.Covariance?.MoveToOuterDisposeScope());
}
