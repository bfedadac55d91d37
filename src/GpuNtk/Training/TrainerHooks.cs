using GpuNtk.Dynamics.Linearization;
using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Optional extension points of a training run.</summary>
/// <param name="Linearize">
/// Builds the model trained alongside the module when <see cref="TrainConfig.Linearize"/> is set. Default: the
/// first-order Taylor model f_lin(x; θ) = f(x; θ0) + J(x; θ0)·(θ − θ0) around a frozen copy of the module (a module
/// whose trainable parameters are θ − θ0). Replace it to compare with another companion (e.g. second order).
/// </param>
/// <param name="Replicate">
/// Makes a new instance of the module's architecture (any initialisation: the trainer copies the parameters and buffers
/// in). TorchSharp cannot deep-copy a module, so the default companion needs this for modules that are not a GpuNtk
/// <see cref="Network"/> (which rebuild from their spec).
/// </param>
public sealed record TrainerHooks(
    Func<nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>>? Linearize = null,
    Func<nn.Module<Tensor, Tensor>>? Replicate = null)
{
    /// <summary>The linearized companion of <paramref name="module"/> at its current parameters.</summary>
    internal nn.Module<Tensor, Tensor> CreateCompanion(nn.Module<Tensor, Tensor> module)
    {
        if (Linearize is not null) return Linearize(module);
        if (module is Network network) return LinearizedModel.Create(network);
        if (Replicate is null)
            throw new ArgumentException($"Linearize: the linearized companion needs a frozen copy of the {module.GetType().Name} at θ0, and TorchSharp " +
                                        "cannot copy a module; pass TrainerHooks(Replicate: () => new YourModule(…)), or set Linearize = false");
        return new LinearizedModel(ModuleCopy.Into(module, Replicate()));
    }
}

/// <summary>Progress of a running training run, reported after every step.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps of the run.</param>
/// <param name="ElapsedSeconds">Wall time of this process's part of the run.</param>
/// <param name="LastRow">The latest telemetry row, if any.</param>
public readonly record struct TrainingProgress(long Step, long TotalSteps, double ElapsedSeconds, Telemetry.MetricsRow? LastRow);
