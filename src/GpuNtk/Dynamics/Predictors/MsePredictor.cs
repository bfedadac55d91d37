using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// Closed-form outputs of a linearized network (or a kernel machine) trained on the MSE loss
/// L = 1/(2·N·O)·‖f − y‖², at any time: gradient flow, gradient descent, and their heavy-ball variants
/// (<see cref="DynamicsOptions"/>). Made by <see cref="Predict.GradientDescentMse"/>.
/// <para>
/// Gradient flow: f_t = y + e^{−ηΘt/(N·O)}·(f_0 − y) on the training set and
/// f_t* = f_0* + Θ*·Θ⁻¹·(I − e^{−ηΘt/(N·O)})·(y − f_0) on a test set; gradient descent: (I − ηΘ/(N·O))^k in place
/// of the exponential. All come from ONE eigendecomposition of Θ (negative eigenvalues clipped to 0), computed on the
/// first call and reused for every time and test set; see <see cref="ModeCoefficients"/> for the momentum variants and
/// for why Θ⁻¹ is never formed. t = ∞ is a Cholesky solve instead. Time t is in steps and η is the learning rate,
/// exactly as in the trainer (conventions: src/GpuNtk/Kernels/README.md).
/// </para>
/// Kernels: traced <c>[N, N]</c> (meaning Θ ⊗ I_O) or full <c>[N, N, O, O]</c> / <c>[N·O, N·O]</c>; test×train
/// kernels in the same layout (<c>[M, N]</c> or <c>[M, N, O, O]</c> / <c>[M·O, N·O]</c>). Outputs are <c>[N, O]</c>.
/// Results are in the kernel's dtype and on its device.
/// </summary>
public sealed class MsePredictor : IDisposable
{
    private readonly TrainSetKernel _kernel;

    internal MsePredictor(TrainSetKernel kernel, double learningRate, DynamicsOptions options)
    {
        _kernel = kernel;
        LearningRate = learningRate;
        Options = options;
    }

    public double LearningRate { get; }
    public DynamicsOptions Options { get; }

    /// <summary>
    /// η_max = 2·N·O/λ_max(Θ)·(1 + β): the largest learning rate at which full-batch gradient descent (with momentum β)
    /// on the linearized model does not diverge. Gradient flow is stable at any η.
    /// </summary>
    public double MaxLearningRate => LearningRateLimit.ForMse(_kernel.MaxEigenvalue, _kernel.Examples, _kernel.Outputs, Options.Momentum);

    /// <summary>Eigenvalues of Θ (ascending, clipped at 0; with the diagonal regularization added).</summary>
    public Tensor Eigenvalues => _kernel.Eigen.Values;

    /// <summary>Outputs at time <paramref name="t"/> (in steps): train <c>[N, O]</c>, test <c>[M, O]</c>.</summary>
    public FunctionSpacePrediction At(double t, Tensor trainOutputs0, Tensor? testOutputs0 = null, Tensor? kTestTrain = null)
    {
        using var scope = NewDisposeScope();
        var p = At([t], trainOutputs0, testOutputs0, kTestTrain);
        var result = new FunctionSpacePrediction(p.Train[0].MoveToOuterDisposeScope(), p.Test?[0].MoveToOuterDisposeScope());
        return result;
    }

    /// <summary>Outputs at each of <paramref name="times"/>: train <c>[T, N, O]</c>, test <c>[T, M, O]</c>.</summary>
    public FunctionSpacePrediction At(IReadOnlyList<double> times, Tensor trainOutputs0, Tensor? testOutputs0 = null, Tensor? kTestTrain = null)
    {
        ArgumentNullException.ThrowIfNull(times);
        ModeCoefficients.CheckTimes(times, Options.Process);
        CheckTest(testOutputs0, kTestTrain);
        using var scope = NewDisposeScope();
        var f0 = _kernel.ToColumns(trainOutputs0.to(_kernel.DType, _kernel.Device));
        var (lambda, v) = _kernel.Eigen;
        var residual = v.t().matmul(f0.sub(_kernel.Targets)); // [n, c] in the eigenbasis
        var (decay, a) = ModeCoefficients.Compute(lambda, times, LearningRate, _kernel.Examples * _kernel.Outputs, Options);
        var train = v.matmul(decay.unsqueeze(2).mul(residual)).add_(_kernel.Targets); // [T, n, c]
        var trainOut = _kernel.FromColumns(train, _kernel.Examples).MoveToOuterDisposeScope();
        Tensor? testOut = null;
        if (testOutputs0 is not null)
        {
            var (kst, m) = _kernel.TestMatrix(kTestTrain!, nameof(kTestTrain));
            var fs0 = _kernel.ToColumns(testOutputs0.to(_kernel.DType, _kernel.Device), m, "test");
            var test = kst.matmul(v).matmul(a.unsqueeze(2).mul(residual)).add_(fs0); // [T, m, c]
            testOut = _kernel.FromColumns(test, m).MoveToOuterDisposeScope();
        }
        return new FunctionSpacePrediction(trainOut, testOut);
    }

    /// <summary>
    /// The t → ∞ limit of every convergent process: train outputs y, test outputs f_0* + Θ*·(Θ + rI)⁻¹·(y − f_0), by a
    /// cached Cholesky factorization (a singular Θ needs a positive <see cref="DynamicsOptions.DiagonalRegularization"/>).
    /// </summary>
    public FunctionSpacePrediction AtInfinity(Tensor trainOutputs0, Tensor? testOutputs0 = null, Tensor? kTestTrain = null)
    {
        CheckTest(testOutputs0, kTestTrain);
        using var scope = NewDisposeScope();
        var f0 = _kernel.ToColumns(trainOutputs0.to(_kernel.DType, _kernel.Device));
        var trainOut = _kernel.FromColumns(_kernel.Targets.clone(), _kernel.Examples).MoveToOuterDisposeScope();
        Tensor? testOut = null;
        if (testOutputs0 is not null)
        {
            var (kst, m) = _kernel.TestMatrix(kTestTrain!, nameof(kTestTrain));
            var fs0 = _kernel.ToColumns(testOutputs0.to(_kernel.DType, _kernel.Device), m, "test");
            var coefficients = _kernel.Solve(_kernel.Targets.sub(f0));
            testOut = _kernel.FromColumns(kst.matmul(coefficients).add_(fs0), m).MoveToOuterDisposeScope();
        }
        return new FunctionSpacePrediction(trainOut, testOut);
    }

    /// <summary>The MSE loss 1/(2·N·O)·‖f − y‖² of train outputs <c>[N, O]</c> or <c>[T, N, O]</c> (per time), on the device.</summary>
    public Tensor Loss(Tensor trainOutputs)
    {
        using var scope = NewDisposeScope();
        var y = _kernel.FromColumns(_kernel.Targets, _kernel.Examples);
        return OutputLoss.MeanSquaredError.Value(trainOutputs.to(_kernel.DType, _kernel.Device), y).MoveToOuterDisposeScope();
    }

    internal static void CheckTest(Tensor? testOutputs0, Tensor? kTestTrain)
    {
        if ((testOutputs0 is null) != (kTestTrain is null))
            throw new ArgumentException("test predictions need both the test outputs at t = 0 and the test×train kernel (or neither)");
    }

    public void Dispose() => _kernel.Dispose();
}
