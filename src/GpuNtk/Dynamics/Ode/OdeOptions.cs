namespace GpuNtk.Dynamics.Ode;

/// <summary>Error control for <see cref="DormandPrinceSolver"/>.</summary>
/// <param name="RelativeTolerance">Per-element relative tolerance.</param>
/// <param name="AbsoluteTolerance">Per-element absolute tolerance.</param>
/// <param name="FixedStep">When set, every step has this size and no error control is done.</param>
/// <param name="InitialStep">First trial step; null picks one from ‖y0‖ and ‖f(y0)‖ (Hairer's heuristic).</param>
/// <param name="MaxStep">Upper bound on any step.</param>
/// <param name="MaxSteps">Steps (accepted or rejected) allowed per <c>AdvanceTo</c> call before giving up.</param>
public sealed record OdeOptions(
    double RelativeTolerance = 1e-6,
    double AbsoluteTolerance = 1e-9,
    double? FixedStep = null,
    double? InitialStep = null,
    double MaxStep = double.PositiveInfinity,
    int MaxSteps = 1_000_000)
{
    public void Validate()
    {
        if (!(RelativeTolerance > 0) || !(AbsoluteTolerance >= 0))
            throw new ArgumentException("ODE tolerances must be positive (rtol > 0, atol ≥ 0)");
        if (FixedStep is { } h && !(h > 0)) throw new ArgumentException($"fixed ODE step must be positive, got {h}");
        if (!(MaxStep > 0)) throw new ArgumentException("MaxStep must be positive");
        if (MaxSteps < 1) throw new ArgumentException("MaxSteps must be ≥ 1");
    }
}
