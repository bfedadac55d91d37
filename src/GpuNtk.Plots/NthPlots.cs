using System.Globalization;
using GpuNtk.Experiments.Hierarchy;
using ScottPlot;

namespace GpuNtk.Plots;

/// <summary>PNG figures of the neural tangent hierarchy experiment (log–log axes drawn as log10 values).</summary>
public static class NthPlots
{
    private static readonly Color[] Palette = [Colors.C0, Colors.C1, Colors.C2, Colors.C3, Colors.C4];

    /// <returns>The paths written.</returns>
    public static IReadOnlyList<string> Write(string directory, NthExperimentResult result)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>
        {
            WidthScaling(Path.Combine(directory, "nth_output_error_vs_width.png"), result, "output", s => s.MaxOutputError,
                         "sup_t RMS |f_p(t) − f(t)| over train ∪ test"),
            WidthScaling(Path.Combine(directory, "nth_ntk_error_vs_width.png"), result, "ntk", s => s.MaxNtkError,
                         "sup_t ‖Θ_p(t) − Θ_t‖_F / ‖Θ_0‖_F"),
            OverTime(Path.Combine(directory, "nth_output_error_vs_time.png"), result),
        };
        return paths;
    }

    private static string WidthScaling(string path, NthExperimentResult result, string metric, Func<NthSummary, double> value, string yLabel)
    {
        var plot = new Plot();
        int c = 0;
        foreach (var group in result.Summary.GroupBy(s => s.Order))
        {
            var color = Palette[c++ % Palette.Length];
            var points = group.Where(s => value(s) > 0).ToArray();
            var xs = points.Select(s => Math.Log10(s.Width)).ToArray();
            var ys = points.Select(s => Math.Log10(value(s))).ToArray();
            var fit = result.Exponents.FirstOrDefault(e => e.Order == group.Key && e.Metric == metric);
            var scatter = plot.Add.Scatter(xs, ys, color);
            scatter.LineWidth = 0;
            scatter.MarkerSize = 9;
            scatter.LegendText = fit is null || double.IsNaN(fit.Exponent)
                ? $"p = {group.Key}"
                : string.Create(CultureInfo.InvariantCulture, $"p = {group.Key}: slope {fit.Exponent:F2} (paper bound −p/2 = {-group.Key / 2.0:F1})");
            var (slope, intercept, _) = PowerLawFit.Fit(points.Select(s => (double)s.Width).ToArray(), points.Select(value).ToArray());
            if (xs.Length >= 2 && !double.IsNaN(slope))
            {
                var line = plot.Add.Line(xs[0], intercept / Math.Log(10) + slope * xs[0], xs[^1], intercept / Math.Log(10) + slope * xs[^1]);
                line.Color = color;
                line.LinePattern = LinePattern.Dashed;
            }
        }
        LogAxes(plot);
        plot.Title("Truncated hierarchy vs real network: error against width");
        plot.XLabel("width");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SavePng(path, 900, 650);
        return path;
    }

    private static string OverTime(string path, NthExperimentResult result)
    {
        var plot = new Plot();
        var widths = result.Config.Widths;
        long[] shown = widths.Count > 1 ? [widths.Min(), widths.Max()] : [widths[0]];
        int c = 0;
        foreach (int order in result.Config.Orders)
        {
            var color = Palette[c++ % Palette.Length];
            foreach (long width in shown)
            {
                var series = result.Observations.Where(o => o.Order == order && o.Width == width && o.OutputError > 0)
                    .GroupBy(o => o.Time).OrderBy(g => g.Key)
                    .Select(g => (T: Math.Log10(g.Key), E: Math.Log10(g.Average(o => o.OutputError)))).ToArray();
                if (series.Length == 0) continue;
                var scatter = plot.Add.Scatter(series.Select(s => s.T).ToArray(), series.Select(s => s.E).ToArray(), color);
                scatter.LinePattern = width == shown[0] && shown.Length > 1 ? LinePattern.Dashed : LinePattern.Solid;
                scatter.LegendText = $"p = {order}, width {width}";
            }
        }
        LogAxes(plot);
        plot.Title("Output error of the truncated hierarchy over training time");
        plot.XLabel("time t (η = 1)");
        plot.YLabel("RMS |f_p(t) − f(t)| over train ∪ test");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 650);
        return path;
    }

    /// <summary>Tick label for log10 value v: plain numbers in [0.001, 10⁵), 1e±k beyond.</summary>
    private static string PowerOfTen(double v)
    {
        double value = Math.Pow(10, v);
        return value is >= 1e-3 and < 1e5
            ? value.ToString("0.###", CultureInfo.InvariantCulture)
            : "1e" + Math.Round(v).ToString(CultureInfo.InvariantCulture);
    }

    private static void LogAxes(Plot plot)
    {
        foreach (var axis in new IAxis[] { plot.Axes.Bottom, plot.Axes.Left })
            axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = PowerOfTen,
            };
    }
}
