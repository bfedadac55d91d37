using GpuNtk.Data;
using GpuNtk.Dynamics.Ode;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Full-batch gradient flow dθ/dt = −η·∇L(θ) for every trained model, integrated together by Dormand–Prince 5(4)
/// (adaptive, or fixed steps) as one <see cref="ParameterGradientFlow"/>. Time is counted in steps
/// (src/GpuNtk/Kernels/README.md): t = k matches k GD steps.
/// </summary>
internal sealed class FlowStepper : IDisposable
{
    private readonly IReadOnlyList<TrainedModel> _models;
    private readonly LabeledData _train;
    private readonly TrainConfig _config;
    private readonly ParameterGradientFlow _flow;

    public FlowStepper(IReadOnlyList<TrainedModel> models, LabeledData train, TrainConfig config, double learningRate, double t0, double? initialStep)
    {
        _models = models;
        _train = train;
        _config = config;
        var parameters = models.SelectMany(m => m.Parameters).Select(p => (Tensor)p).ToArray();
        var options = new OdeOptions(config.FlowRelativeTolerance, config.FlowAbsoluteTolerance, config.FlowStep, InitialStep: initialStep);
        _flow = new ParameterGradientFlow(parameters, Gradient, learningRate, t0, options);
    }

    public double Time => _flow.Time;
    /// <summary>The step size the solver will try next (kept in checkpoints so a resumed run takes the same steps).</summary>
    public double StepSize => _flow.StepSize;
    public long FunctionEvaluations => _flow.FunctionEvaluations;

    /// <summary>Integrates to <paramref name="t"/>, leaves the result in the parameters and returns the network's full-batch loss there.</summary>
    public Tensor AdvanceTo(double t, CancellationToken cancellation)
    {
        _flow.AdvanceTo(t, cancellation);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var f = _models[0].Module.forward(_train.Inputs);
        return Losses.Compute(_config.Loss, f, _train.Targets, _train.Labels).detach().MoveToOuterDisposeScope();
    }

    /// <summary>∇L of every model at its current parameters, chunked over the training set (the flow owns the results).</summary>
    private Tensor[] Gradient()
    {
        var result = new List<Tensor>();
        foreach (var m in _models)
        {
            using (FullBatch.LossAndGradient(m, _train, _config.Loss, _config.FullBatchChunk)) { }
            foreach (var p in m.Parameters)
            {
                using var g = p.grad!;
                result.Add(g.clone());
            }
            m.ZeroGrad();
        }
        return result.ToArray();
    }

    public void Dispose() => _flow.Dispose();
}
