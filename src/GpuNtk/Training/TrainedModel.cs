using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// A module the trainer updates: the network itself, or a companion trained alongside it on the same batches with the
/// same optimizer settings (e.g. the linearized model). Holds its own optimizer state.
/// </summary>
internal sealed class TrainedModel : IDisposable
{
    public TrainedModel(string name, nn.Module<Tensor, Tensor> module, TrainConfig config, double learningRate)
    {
        Name = name;
        Module = module;
        Parameters = module.parameters().Where(p => p.requires_grad).ToArray();
        if (Parameters.Count == 0) throw new ArgumentException($"{name} has no trainable parameters");
        Optimizer = config.Optimizer switch
        {
            OptimizerKind.Flow => null,
            OptimizerKind.Adam or OptimizerKind.AdamW => new AdamOptimizer(Parameters, config.WeightDecay, config.Optimizer == OptimizerKind.AdamW),
            _ => new SgdOptimizer(Parameters, learningRate, config.Optimizer.UsesMomentum() ? config.Momentum : 0,
                config.Optimizer == OptimizerKind.Nesterov, config.WeightDecay),
        };
    }

    public string Name { get; }
    public nn.Module<Tensor, Tensor> Module { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>Null for gradient flow.</summary>
    public IParameterOptimizer? Optimizer { get; }

    public void ZeroGrad()
    {
        foreach (var p in Parameters)
        {
            using var g = p.grad;
            if (g is not null) p.grad = null;
        }
    }

    public void Dispose() => Optimizer?.Dispose();
}
