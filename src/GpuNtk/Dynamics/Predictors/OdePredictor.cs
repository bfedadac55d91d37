using GpuNtk.Dynamics.Ode;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// Function-space gradient flow of a linearized network on any <see cref="OutputLoss"/> (e.g. cross-entropy), by the
/// Dormand–Prince solver: df/dt = −η·Θ·∂L/∂f on the training set and df*/dt = −η·Θ*·∂L/∂f on a test set; with
/// heavy-ball momentum β the second-order system f'' + (1 − β)·f' = −η·Θ·∂L/∂f (f'(0) = 0). Time t is in steps, as in
/// <see cref="MsePredictor"/>, which it reproduces for the MSE loss. Made by <see cref="Predict.GradientDescent"/>.
/// </summary>
public sealed class OdePredictor : IDisposable
{
    private readonly TrainSetKernel _kernel;

    internal OdePredictor(TrainSetKernel kernel, OutputLoss loss, double learningRate, double momentum, OdeOptions? ode)
    {
        _kernel = kernel;
        Loss = loss;
        LearningRate = learningRate;
        Momentum = momentum;
        OdeOptions = ode ?? new OdeOptions(RelativeTolerance: 1e-8, AbsoluteTolerance: 1e-10);
        OdeOptions.Validate();
    }

    public OutputLoss Loss { get; }
    public double LearningRate { get; }
    public double Momentum { get; }
    public OdeOptions OdeOptions { get; }

    /// <summary>Outputs at time <paramref name="t"/> (steps): train <c>[N, O]</c>, test <c>[M, O]</c>.</summary>
    public FunctionSpacePrediction At(double t, Tensor trainOutputs0, Tensor? testOutputs0 = null, Tensor? kTestTrain = null,
                                      CancellationToken cancellation = default)
    {
        using var scope = NewDisposeScope();
        var p = At([t], trainOutputs0, testOutputs0, kTestTrain, cancellation);
        return new FunctionSpacePrediction(p.Train[0].MoveToOuterDisposeScope(), p.Test?[0].MoveToOuterDisposeScope());
    }

    /// <summary>Outputs at each of <paramref name="times"/> (non-decreasing): train <c>[T, N, O]</c>, test <c>[T, M, O]</c>.</summary>
    public FunctionSpacePrediction At(IReadOnlyList<double> times, Tensor trainOutputs0, Tensor? testOutputs0 = null, Tensor? kTestTrain = null,
                                      CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(times);
        ModeCoefficients.CheckTimes(times, TrainingProcess.GradientFlow);
        for (int i = 1; i < times.Count; i++)
            if (times[i] < times[i - 1]) throw new ArgumentException($"times must be non-decreasing (t[{i}] = {times[i]} < t[{i - 1}] = {times[i - 1]})");
        MsePredictor.CheckTest(testOutputs0, kTestTrain);
        using var scope = NewDisposeScope();
        var k = _kernel.Matrix;
        var f0 = _kernel.ToColumns(trainOutputs0.to(_kernel.DType, _kernel.Device));
        Tensor? kst = null;
        long m = 0;
        var state = new List<Tensor> { f0 };
        if (testOutputs0 is not null)
        {
            (kst, m) = _kernel.TestMatrix(kTestTrain!, nameof(kTestTrain));
            state.Add(_kernel.ToColumns(testOutputs0.to(_kernel.DType, _kernel.Device), m, "test"));
        }
        bool heavyBall = Momentum > 0;
        if (heavyBall) state.AddRange(state.Select(s => zeros_like(s)).ToList());
        int parts = kst is null ? 1 : 2;
        double eta = LearningRate, gamma = 1 - Momentum;
        var targets = _kernel.FromColumns(_kernel.Targets, _kernel.Examples);

        Tensor[] Rhs(double _, IReadOnlyList<Tensor> y)
        {
            // −η·∂L/∂f on the training outputs, in the kernel's column layout.
            var g = _kernel.ToColumns(Loss.Gradient(_kernel.FromColumns(y[0], _kernel.Examples), targets)).mul(-eta);
            var forces = new Tensor[parts];
            forces[0] = k.matmul(g);
            if (kst is not null) forces[1] = kst.matmul(g);
            if (!heavyBall) return forces;
            var d = new Tensor[2 * parts];
            for (int i = 0; i < parts; i++)
            {
                d[i] = y[parts + i].clone();
                d[parts + i] = forces[i].add_(y[parts + i], alpha: -gamma);
            }
            return d;
        }

        using var solver = new DormandPrinceSolver(Rhs, state, 0, OdeOptions);
        var train = new List<Tensor>();
        var test = new List<Tensor>();
        foreach (var t in times)
        {
            solver.AdvanceTo(t, cancellation);
            train.Add(solver.State[0].clone());
            if (kst is not null) test.Add(solver.State[1].clone());
        }
        var trainOut = _kernel.FromColumns(stack(train), _kernel.Examples).MoveToOuterDisposeScope();
        var testOut = kst is null ? null : _kernel.FromColumns(stack(test), m).MoveToOuterDisposeScope();
        return new FunctionSpacePrediction(trainOut, testOut);
    }

    public void Dispose() => _kernel.Dispose();
}
