namespace GpuNtk.Experiments.Hierarchy;

/// <summary>
/// One observation: at time t, the hierarchy truncated at p against the real network (width, seed).
/// <see cref="OutputError"/> = ‖f_p(t) − f(t)‖₂/√(|A|·O) over the probes A (train ∪ test) and the O outputs;
/// <see cref="NtkError"/> = ‖Θ_p(t) − Θ_t‖_F / ‖Θ_0‖_F on A × T (full over outputs when O &gt; 1);
/// <see cref="NtkChange"/> = ‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F; <see cref="Loss"/> = the real network's training loss 1/(2·n·O)·‖f − y‖².
/// </summary>
public sealed record NthObservation(long Width, int Seed, int Order, double Time, double Loss, double OutputError, double NtkError, double NtkChange);

/// <summary>Errors at one width and level: the largest over time, averaged over seeds.</summary>
public sealed record NthSummary(long Width, int Order, double MaxOutputError, double MaxNtkError);

/// <summary>A fitted power law error ≈ C·width^Exponent (least squares on logarithms).</summary>
public sealed record NthExponent(int Order, string Metric, double Exponent, double RSquared);

/// <summary>Timing of one (width, seed) run, in seconds.</summary>
public sealed record NthTiming(long Width, int Seed, long Parameters, double KernelSeconds, double DynamicsSeconds);

public sealed record NthExperimentResult(
    NthExperimentConfig Config,
    IReadOnlyList<NthObservation> Observations,
    IReadOnlyList<NthSummary> Summary,
    IReadOnlyList<NthExponent> Exponents,
    IReadOnlyList<NthTiming> Timings);
