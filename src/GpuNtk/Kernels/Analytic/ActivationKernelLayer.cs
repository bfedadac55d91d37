namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Elementwise nonlinearity φ: K' = T(K), Θ' = Θ·Ṫ(K), with T and Ṫ from <see cref="IDualActivation"/> evaluated on
/// the covariance and the two self-variances at each entry.
/// </summary>
public sealed class ActivationKernelLayer(IDualActivation dual) : IKernelLayer
{
    public IDualActivation Dual { get; } = dual ?? throw new ArgumentNullException(nameof(dual));

    public string Name => Dual.Name;

    public KernelState Apply(KernelState state, KernelContext context)
    {
        var (var1, var2) = context.Variances(this, state);
        bool derivative = context.TrackNtk && state.Ntk is not null;
        var (t, tDot) = Dual.Apply(state.Nngp, var1, var2, derivative);
        var ntk = derivative ? state.Ntk!.mul_(tDot!) : null;
        tDot?.Dispose();
        return state with { Nngp = t, Ntk = ntk };
    }
}
