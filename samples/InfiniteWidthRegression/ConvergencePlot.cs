using ScottPlot;

namespace GpuNtk.Samples.InfiniteWidthRegression;

/// <summary>Relative error against width on log-log axes (ScottPlot plots log10 values with decade ticks).</summary>
internal static class ConvergencePlot
{
    public static void Save(string path, IReadOnlyList<(double Width, double Mean, double Std)> points, double slope, double intercept, string title)
    {
        var plot = new Plot();
        double[] xs = points.Select(p => Math.Log10(p.Width)).ToArray();
        double[] ys = points.Select(p => Math.Log10(p.Mean)).ToArray();
        // Error bars in log space: ± std mapped through log10 (asymmetric; the upper half is shown symmetrically).
        double[] errs = points.Select(p => Math.Log10(p.Mean + p.Std) - Math.Log10(p.Mean)).ToArray();
        var measured = plot.Add.Scatter(xs, ys);
        measured.LegendText = "mean over seeds (± std)";
        measured.LineWidth = 0;
        measured.MarkerSize = 9;
        plot.Add.ErrorBar(xs, ys, errs);
        // Fit: log error = intercept + slope·log width (natural logs → same slope in log10).
        double x0 = xs.Min(), x1 = xs.Max();
        var fit = plot.Add.Line(x0, (intercept + slope * x0 * Math.Log(10)) / Math.Log(10), x1, (intercept + slope * x1 * Math.Log(10)) / Math.Log(10));
        fit.LegendText = $"fit: slope {slope:F2}";
        fit.LinePattern = LinePattern.Dashed;
        // Log axes: ticks at the measured widths and at 1-1.5-2-3-5-7 steps of the error, labelled with the real values.
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        plot.Axes.Bottom.SetTicks(xs, points.Select(p => p.Width.ToString("G", inv)).ToArray());
        double lo = points.Min(p => p.Mean - p.Std) is var m && m > 0 ? m : points.Min(p => p.Mean) / 2, hi = points.Max(p => p.Mean + p.Std);
        var yTicks = Enumerable.Range(-6, 12).SelectMany(e => new[] { 1.0, 1.5, 2.0, 3.0, 5.0, 7.0 }.Select(f => f * Math.Pow(10, e)))
            .Where(v => v >= lo / 1.5 && v <= hi * 1.5).ToArray();
        plot.Axes.Left.SetTicks(yTicks.Select(Math.Log10).ToArray(), yTicks.Select(v => v.ToString("G3", inv)).ToArray());
        plot.Title($"Empirical NTK → analytic NTK: {title}", size: 14);
        plot.XLabel("width");
        plot.YLabel("relative Frobenius error of the empirical NTK");
        plot.ShowLegend();
        plot.SavePng(path, 900, 650);
    }
}
