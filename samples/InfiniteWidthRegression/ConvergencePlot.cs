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
        foreach (var axis in new IAxis[] { plot.Axes.Bottom, plot.Axes.Left })
            axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = v => Math.Pow(10, v).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
            };
        plot.Title($"Empirical NTK → analytic NTK\n{title}");
        plot.XLabel("width");
        plot.YLabel("relative Frobenius error ‖Θ_w − Θ_∞‖/‖Θ_∞‖");
        plot.ShowLegend();
        plot.SavePng(path, 900, 650);
    }
}
