using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Watches training losses on the device without a host round-trip per step: keeps the worst loss seen (NaN and ±Inf
/// count as +Inf) and reads it only when <see cref="Check"/> is called.
/// </summary>
internal sealed class DivergenceMonitor : IDisposable
{
    private Tensor _worst;

    public DivergenceMonitor(double referenceLoss, double factor, Device device)
    {
        Threshold = factor * Math.Max(Math.Abs(referenceLoss), 1e-2);
        _worst = full(1, double.NegativeInfinity, ScalarType.Float64, device).DetachFromDisposeScope();
    }

    /// <summary>A loss above this counts as an explosion.</summary>
    public double Threshold { get; }

    public void Observe(Tensor loss)
    {
        using var scope = NewDisposeScope();
        var value = loss.detach().to(ScalarType.Float64).reshape(1).nan_to_num(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity);
        _worst.copy_(maximum(_worst, value));
    }

    /// <summary>The worst loss since the last check, and whether it means divergence; resets the tracker.</summary>
    public (bool Diverged, double Worst) Check()
    {
        double worst = _worst.item<double>();
        _worst.fill_(double.NegativeInfinity);
        return (double.IsNaN(worst) || double.IsInfinity(worst) && worst > 0 || worst > Threshold, worst);
    }

    public void Dispose() => _worst.Dispose();
}
