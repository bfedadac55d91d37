using GpuNtk.Data;
using GpuNtk.Dynamics.Ode;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Full-batch gradient flow dθ/dt = −η·∇L(θ) for every trained model, integrated together by Dormand–Prince 5(4)
/// (adaptive, or fixed steps). Time is counted in steps (src/GpuNtk/Kernels/README.md): t = k matches k GD steps.
/// </summary>
internal sealed class FlowStepper : IDisposable
{
    private readonly IReadOnlyList<TrainedModel> _models;
    private readonly LabeledData _train;
    private readonly TrainConfig _config;
    private readonly DormandPrinceSolver _solver;
    private readonly double _learningRate;

    public FlowStepper(IReadOnlyList<TrainedModel> models, LabeledData train, TrainConfig config, double learningRate, double t0, double? initialStep)
    {
        _learningRate = learningRate;
        _models = models;
        _train = train;
        _config = config;
        var state = models.SelectMany(m => m.Parameters).Select(p => (Tensor)p).ToArray();
        var options = new OdeOptions(config.FlowRelativeTolerance, config.FlowAbsoluteTolerance, config.FlowStep, InitialStep: initialStep);
        _solver = new DormandPrinceSolver(Derivative, state, t0, options);
    }

    public double Time => _solver.Time;
    /// <summary>The step size the solver will try next (kept in checkpoints so a resumed run takes the same steps).</summary>
    public double StepSize => _solver.StepSize;
    public long FunctionEvaluations => _solver.FunctionEvaluations;

    /// <summary>Integrates to <paramref name="t"/>, leaves the result in the parameters and returns the network's full-batch loss there.</summary>
    public Tensor AdvanceTo(double t, CancellationToken cancellation)
    {
        _solver.AdvanceTo(t, cancellation);
        LoadIntoParameters(_solver.State);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var f = _models[0].Module.forward(_train.Inputs);
        return Losses.Compute(_config.Loss, f, _train.Targets, _train.Labels).detach().MoveToOuterDisposeScope();
    }

    private Tensor[] Derivative(double t, IReadOnlyList<Tensor> y)
    {
        LoadIntoParameters(y);
        var result = new List<Tensor>(y.Count);
        foreach (var m in _models)
        {
            using (FullBatch.LossAndGradient(m, _train, _config.Loss, _config.FullBatchChunk)) { }
            foreach (var p in m.Parameters)
            {
                using var g = p.grad!;
                result.Add(g.mul(-_learningRate));
            }
            m.ZeroGrad();
        }
        return result.ToArray();
    }

    private void LoadIntoParameters(IReadOnlyList<Tensor> y)
    {
        using var noGrad = no_grad();
        int i = 0;
        foreach (var m in _models)
            foreach (var p in m.Parameters)
                p.copy_(y[i++]);
    }

    public void Dispose() => _solver.Dispose();
}
