using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Optional extension points of a <see cref="Trainer"/>.</summary>
/// <param name="Linearize">
/// Builds the linearized model f_lin(x; θ) = f(x; θ0) + J(x; θ0)·(θ − θ0) of the network at θ0 (a module whose
/// trainable parameters are θ − θ0). When given, it is trained alongside the network with the same optimizer settings on
/// the same batches, and the linearization-error columns appear in the telemetry. When null, those columns are absent.
/// </param>
public sealed record TrainerHooks(Func<Network, nn.Module<Tensor, Tensor>>? Linearize = null);

/// <summary>Progress of a running <see cref="Trainer"/>, reported after every step.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps of the run.</param>
/// <param name="ElapsedSeconds">Wall time of this process's part of the run.</param>
/// <param name="LastRow">The latest telemetry row, if any.</param>
public readonly record struct TrainingProgress(long Step, long TotalSteps, double ElapsedSeconds, Telemetry.MetricsRow? LastRow);
