using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>Picks the per-example derivative backend for a model.</summary>
public static class PerExampleDerivatives
{
    /// <summary>
    /// The batched backend for fully connected GpuNtk networks (flatten/dense/activation layers); for any other module
    /// the looped backend (one autograd graph per row — correct for every architecture, much slower).
    /// </summary>
    public static IPerExampleDerivatives For(nn.Module<Tensor, Tensor> model, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var plan = DenseNetworkPlan.TryCreate(model, out var reason);
        if (plan is not null) return new BatchedDenseDerivatives(plan);
        (logger ?? NullLogger.Instance).LogInformation("Per-example derivatives by looping over examples: {Reason}", reason);
        return new LoopedModuleDerivatives(model);
    }

    /// <summary>The looped backend for any module (for cross-checks and unsupported layers).</summary>
    public static IPerExampleDerivatives Looped(nn.Module<Tensor, Tensor> model) =>
        new LoopedModuleDerivatives(model ?? throw new ArgumentNullException(nameof(model)));
}
