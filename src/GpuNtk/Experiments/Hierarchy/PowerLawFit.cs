namespace GpuNtk.Experiments.Hierarchy;

/// <summary>Least-squares fit of log y = log C + α·log x.</summary>
public static class PowerLawFit
{
    /// <returns>(α, log C, R²); NaN when fewer than two positive points.</returns>
    public static (double Exponent, double LogPrefactor, double RSquared) Fit(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var points = x.Zip(y).Where(p => p.First > 0 && p.Second > 0 && double.IsFinite(p.Second))
                      .Select(p => (X: Math.Log(p.First), Y: Math.Log(p.Second))).ToArray();
        if (points.Length < 2) return (double.NaN, double.NaN, double.NaN);
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        double sxy = points.Sum(p => (p.X - mx) * (p.Y - my));
        double syy = points.Sum(p => (p.Y - my) * (p.Y - my));
        if (sxx == 0) return (double.NaN, double.NaN, double.NaN);
        double slope = sxy / sxx;
        return (slope, my - slope * mx, syy == 0 ? 1 : sxy * sxy / (sxx * syy));
    }
}
