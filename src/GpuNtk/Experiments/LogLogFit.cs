namespace GpuNtk.Experiments;

/// <summary>A least-squares line log y = slope·log x + intercept (natural logs) with its coefficient of determination.</summary>
public sealed record LogLogFit(double Slope, double Intercept, double RSquared, int Points)
{
    /// <summary>Fits the points with x, y &gt; 0 (others are skipped); null with fewer than two usable points.</summary>
    public static LogLogFit? Fit(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var pts = x.Zip(y).Where(p => p.First > 0 && p.Second > 0 && double.IsFinite(p.Second)).Select(p => (X: Math.Log(p.First), Y: Math.Log(p.Second))).ToArray();
        if (pts.Length < 2) return null;
        double mx = pts.Average(p => p.X), my = pts.Average(p => p.Y);
        double sxx = pts.Sum(p => (p.X - mx) * (p.X - mx)), sxy = pts.Sum(p => (p.X - mx) * (p.Y - my));
        double syy = pts.Sum(p => (p.Y - my) * (p.Y - my));
        if (sxx == 0) return null;
        double slope = sxy / sxx;
        double r2 = syy == 0 ? 1 : sxy * sxy / (sxx * syy);
        return new LogLogFit(slope, my - slope * mx, r2, pts.Length);
    }

    /// <summary>The fitted y at <paramref name="x"/>.</summary>
    public double At(double x) => Math.Exp(Intercept + Slope * Math.Log(x));
}
