using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Optional extension points of a <see cref="Trainer"/>.</summary>
/// <param name="Linearize">
/// Builds the model trained alongside the network when <see cref="TrainConfig.Linearize"/> is set: by default the
/// first-order Taylor model <c>LinearizedModel.Create(network)</c>, f_lin(x; θ) = f(x; θ0) + J(x; θ0)·(θ − θ0), a
/// module whose trainable parameters are θ − θ0. Replace it to compare with another companion (e.g. second order).
/// </param>
public sealed record TrainerHooks(Func<Network, nn.Module<Tensor, Tensor>>? Linearize = null);

/// <summary>Progress of a running <see cref="Trainer"/>, reported after every step.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps of the run.</param>
/// <param name="ElapsedSeconds">Wall time of this process's part of the run.</param>
/// <param name="LastRow">The latest telemetry row, if any.</param>
public readonly record struct TrainingProgress(long Step, long TotalSteps, double ElapsedSeconds, Telemetry.MetricsRow? LastRow);
