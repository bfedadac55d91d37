using GpuNtk.Networks;

namespace GpuNtk.Kernels.Analytic;

/// <summary>The dual of each network <see cref="Activation"/>: closed forms where they exist, quadrature otherwise.</summary>
public static class DualActivations
{
    /// <summary>Gauss–Hermite order used for activations without a closed form (tanh).</summary>
    public const int DefaultQuadratureOrder = 64;

    public static IDualActivation For(Activation activation) => activation switch
    {
        Activation.Relu => new ReluDual(),
        Activation.Erf => new ErfDual(),
        Activation.Gelu => new GeluDual(),
        Activation.Identity => new IdentityDual(),
        Activation.Tanh => QuadratureDual.Tanh(DefaultQuadratureOrder),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "no dual activation for this activation"),
    };
}
