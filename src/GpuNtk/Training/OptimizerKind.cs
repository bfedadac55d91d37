namespace GpuNtk.Training;

/// <summary>How parameters move.</summary>
public enum OptimizerKind
{
    /// <summary>θ ← θ − η·g.</summary>
    Sgd,
    /// <summary>Heavy-ball (PyTorch form): v ← β·v + g, θ ← θ − η·v.</summary>
    Momentum,
    /// <summary>Nesterov (PyTorch form): v ← β·v + g, θ ← θ − η·(g + β·v).</summary>
    Nesterov,
    /// <summary>Full-batch gradient flow dθ/dt = −η·∇L(θ), integrated by an ODE solver.</summary>
    Flow,
}

public static class OptimizerKinds
{
    public static OptimizerKind Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "sgd" or "gd" => OptimizerKind.Sgd,
        "momentum" or "heavy-ball" or "heavyball" => OptimizerKind.Momentum,
        "nesterov" => OptimizerKind.Nesterov,
        "flow" or "gradient-flow" or "ode" => OptimizerKind.Flow,
        _ => throw new ArgumentException($"--optimizer {text}: use sgd, momentum, nesterov or flow"),
    };

    public static string ToName(this OptimizerKind kind) => kind.ToString().ToLowerInvariant();

    public static bool UsesMomentum(this OptimizerKind kind) => kind is OptimizerKind.Momentum or OptimizerKind.Nesterov;
}
