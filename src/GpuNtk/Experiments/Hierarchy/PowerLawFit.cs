namespace GpuNtk.Experiments.Hierarchy;

/// <summary>Least-squares fit of log y = log C + α·log x, as a tuple (the fit itself is <see cref="LogLogFit"/>).</summary>
public static class PowerLawFit
{
    /// <returns>(α, log C, R²); NaN when fewer than two positive points.</returns>
    public static (double Exponent, double LogPrefactor, double RSquared) Fit(IReadOnlyList<double> x, IReadOnlyList<double> y) =>
        LogLogFit.Fit(x, y) is { } fit ? (fit.Slope, fit.Intercept, fit.RSquared) : (double.NaN, double.NaN, double.NaN);
}
