namespace GpuNtk.Networks;

/// <summary>How a layer's parameters are initialised and scaled in the forward pass.</summary>
public enum Parameterization
{
    /// <summary>
    /// NTK parameterization (Jacot et al. 2018): W, b ~ N(0, 1); the layer computes
    /// (W_std/√fan_in)·W·x + b_std·b. The NTK has a finite, deterministic limit as width → ∞.
    /// </summary>
    Ntk,

    /// <summary>
    /// Standard parameterization with PyTorch semantics: y = W·x + b, W and b ~ U(−1/√fan_in, 1/√fan_in)
    /// (PyTorch's default <c>nn.Linear</c>/<c>nn.Conv2d</c> init), so PyTorch state_dicts map onto it.
    /// W_std and b_std are not used.
    /// </summary>
    Standard,
}

public static class ParameterizationNames
{
    public static string ToName(this Parameterization p) => p == Parameterization.Ntk ? "ntk" : "standard";

    public static Parameterization Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "ntk" => Parameterization.Ntk,
        "standard" or "std" => Parameterization.Standard,
        _ => throw new FormatException($"unknown parameterization '{name}'; use ntk or standard"),
    };
}
