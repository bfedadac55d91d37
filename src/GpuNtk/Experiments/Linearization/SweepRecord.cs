namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// One measurement of a network of width <see cref="Width"/> and its linearization after <see cref="Step"/> steps of
/// full-batch gradient descent (time t = step). Distances between outputs are root-mean-square over examples and
/// outputs, i.e. ‖f − f_lin‖/√(M·O).
/// </summary>
/// <param name="OutputGapTest">RMS of f_t − f_t^lin on the test set.</param>
/// <param name="OutputGapTrain">RMS of f_t − f_t^lin on the training set.</param>
/// <param name="KernelChange">‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F of the network on the NTK probe (traced kernel).</param>
/// <param name="ParameterChange">‖θ_t − θ_0‖₂ / √width of the network.</param>
/// <param name="LinearParameterChange">‖θ_t^lin − θ_0‖₂ / √width of the linearization.</param>
public sealed record SweepRecord(
    long Width,
    long Seed,
    int Step,
    double TrainLoss,
    double TrainLossLinear,
    double TestLoss,
    double TestLossLinear,
    double TestAccuracy,
    double TestAccuracyLinear,
    double OutputGapTest,
    double OutputGapTrain,
    double KernelChange,
    double ParameterChange,
    double LinearParameterChange)
{
    /// <summary>The three quantities whose decay with width the experiment measures.</summary>
    public static IReadOnlyList<(string Name, Func<SweepRecord, double> Value)> ScalingMetrics { get; } =
    [
        ("‖f_t − f_t^lin‖ (test RMS)", r => r.OutputGapTest),
        ("‖Θ_t − Θ_0‖F / ‖Θ_0‖F", r => r.KernelChange),
        ("‖θ_t − θ_0‖ / √width", r => r.ParameterChange),
    ];
}
