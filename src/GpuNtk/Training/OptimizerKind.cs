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
    /// <summary>Adam (PyTorch's, L2 weight decay); η_max does not apply.</summary>
    Adam,
    /// <summary>AdamW (PyTorch's, decoupled weight decay); η_max does not apply.</summary>
    AdamW,
}

public static class OptimizerKinds
{
    public static OptimizerKind Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "sgd" or "gd" => OptimizerKind.Sgd,
        "momentum" or "heavy-ball" or "heavyball" => OptimizerKind.Momentum,
        "nesterov" => OptimizerKind.Nesterov,
        "flow" or "gradient-flow" or "ode" => OptimizerKind.Flow,
        "adam" => OptimizerKind.Adam,
        "adamw" => OptimizerKind.AdamW,
        _ => throw new ArgumentException($"Optimizer {text}: use sgd, momentum, nesterov, flow, adam or adamw"),
    };

    public static string ToName(this OptimizerKind kind) => kind.ToString().ToLowerInvariant();

    public static bool UsesMomentum(this OptimizerKind kind) => kind is OptimizerKind.Momentum or OptimizerKind.Nesterov;

    /// <summary>Whether η_max = 2·N·O/λ_max (×momentum factor) is the stability bound: the linear-model theory of (momentum) gradient descent.</summary>
    public static bool HasEtaMax(this OptimizerKind kind) => kind is OptimizerKind.Sgd or OptimizerKind.Momentum or OptimizerKind.Nesterov;
}
