using System.Globalization;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Dense layer in NTK parameterization, z = (σ_w/√n)·W·x + σ_b·b with W, b ~ N(0, 1):
/// K' = σ_w²·K + σ_b² and Θ' = K' + σ_w²·Θ, with K the feature-mean covariance of the input.
/// </summary>
public sealed class DenseKernelLayer(double wStd, double bStd) : IKernelLayer
{
    public double WStd { get; } = wStd;
    public double BStd { get; } = bStd;

    public string Name => string.Create(CultureInfo.InvariantCulture, $"dense(wstd={WStd:G6},bstd={BStd:G6})");

    public KernelState Apply(KernelState state, KernelContext context)
    {
        if (state.IsSpatial)
            throw new InvalidOperationException("a dense layer needs features: put a flatten or (global) average pooling layer in front of it");
        double w2 = WStd * WStd, b2 = BStd * BStd;
        var nngp = state.Nngp.mul_(w2).add_(b2);
        var ntk = !context.TrackNtk ? null
            : state.Ntk is null ? nngp.clone()
            : state.Ntk.mul_(w2).add_(nngp);
        return state with { Nngp = nngp, Ntk = ntk };
    }
}
