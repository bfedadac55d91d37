using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// Predicted outputs: <see cref="Train"/> <c>[N, O]</c> and, when a test set was given, <see cref="Test"/> <c>[M, O]</c>;
/// both with a leading time axis <c>[T, …]</c> when several times were asked for. Owns its tensors.
/// </summary>
public sealed record FunctionSpacePrediction(Tensor Train, Tensor? Test) : IDisposable
{
    public void Dispose()
    {
        Train.Dispose();
        Test?.Dispose();
    }
}

/// <summary>
/// A Gaussian over outputs: <see cref="Mean"/> <c>[M, O]</c>; <see cref="Covariance"/> <c>[M, M]</c> (traced kernels:
/// the same for every output, outputs independent) or <c>[M, M, O, O]</c> (full kernels), null when not asked for.
/// Owns its tensors.
/// </summary>
public sealed record Gaussian(Tensor Mean, Tensor? Covariance) : IDisposable
{
    public void Dispose()
    {
        Mean.Dispose();
        Covariance?.Dispose();
    }
}
