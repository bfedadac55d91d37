using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// A layer whose output is <c>WeightMultiplier·(W ⋆ x) + BiasMultiplier·b</c>. Structured NTK rules and analytic
/// kernels read these multipliers; initialisation draws the raw parameters from a seeded generator.
/// </summary>
public interface IParameterizedLayer
{
    Parameterization Parameterization { get; }
    /// <summary>W_std/√fan_in in NTK parameterization; 1 in standard parameterization.</summary>
    double WeightMultiplier { get; }
    /// <summary>b_std in NTK parameterization; 1 in standard parameterization.</summary>
    double BiasMultiplier { get; }
    long FanIn { get; }
    /// <summary>Draws fresh parameters (float64, CPU) from <paramref name="generator"/> and copies them in.</summary>
    void Initialize(Generator generator);
}
