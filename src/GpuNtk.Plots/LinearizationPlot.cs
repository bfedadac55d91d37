using System.Globalization;
using GpuNtk.Experiments.Linearization;
using ScottPlot;

namespace GpuNtk.Plots;

/// <summary>
/// One PNG for a linearization sweep: top row, each scaling metric against width at the final time on log-log axes
/// with its fitted slope and a slope −½ guide; bottom row, each metric against time, one line per width.
/// ScottPlot draws log10 values; ticks are labelled with the real ones.
/// (Shared by <c>gpuntk linearize</c> and samples/WideNetworksAreLinear.)
/// </summary>
public static class LinearizationPlot
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Save(LinearizationSweepResult result, string path)
    {
        var multiplot = new Multiplot();
        var metrics = SweepRecord.ScalingMetrics;
        multiplot.AddPlots(2 * metrics.Count);
        var plots = multiplot.GetPlots();
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(2, metrics.Count);
        int final = result.FinalStep;
        double[] widths = result.Widths.Select(w => (double)w).ToArray();
        double[] logWidths = widths.Select(Math.Log10).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        for (int m = 0; m < metrics.Count; m++)
        {
            var (name, metric) = metrics[m];
            // Top: metric vs width at the final time.
            var top = plots[m];
            var values = result.MeanOverSeeds(metric, final);
            var points = logWidths.Zip(values).Where(p => p.Second > 0 && double.IsFinite(p.Second)).ToArray();
            var measured = top.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => Math.Log10(p.Second)).ToArray());
            measured.LineWidth = 0;
            measured.MarkerSize = 9;
            measured.LegendText = $"t = {final}";
            if (result.SlopeAt(metric, final) is { } fit)
            {
                var line = top.Add.Line(logWidths[0], Math.Log10(fit.At(widths[0])), logWidths[^1], Math.Log10(fit.At(widths[^1])));
                line.LinePattern = LinePattern.Dashed;
                line.LegendText = $"fit: slope {fit.Slope.ToString("F2", Inv)}";
                // The theory's O(width^−½), anchored at the narrowest width's fitted value.
                double anchor = Math.Log10(fit.At(widths[0]));
                var guide = top.Add.Line(logWidths[0], anchor, logWidths[^1], anchor - 0.5 * (logWidths[^1] - logWidths[0]));
                guide.LinePattern = LinePattern.Dotted;
                guide.Color = Colors.Gray;
                guide.LegendText = "slope −0.5";
            }
            top.Axes.Bottom.SetTicks(logWidths, widths.Select(w => w.ToString("G", Inv)).ToArray());
            LogTicks(top, points.Select(p => p.Second).ToArray());
            top.Title(name, size: 13);
            top.XLabel("width");
            top.ShowLegend(Alignment.UpperRight);

            // Bottom: metric vs time, one line per width.
            var bottom = plots[metrics.Count + m];
            var steps = result.Steps.Where(s => s > 0).ToArray();
            var all = new List<double>();
            for (int i = 0; i < widths.Length; i++)
            {
                var series = steps.Select(s => (Step: (double)s, Value: result.MeanOverSeeds(metric, s)[i])).Where(p => p.Value > 0 && double.IsFinite(p.Value)).ToArray();
                if (series.Length == 0) continue;
                all.AddRange(series.Select(p => p.Value));
                var sc = bottom.Add.Scatter(series.Select(p => p.Step).ToArray(), series.Select(p => Math.Log10(p.Value)).ToArray());
                sc.Color = palette.GetColor(i);
                sc.LegendText = $"width {widths[i].ToString("G", Inv)}";
            }
            LogTicks(bottom, all.ToArray());
            bottom.XLabel("t (gradient-descent steps)");
            bottom.Title($"{name} over time", size: 13);
            bottom.ShowLegend(Alignment.UpperLeft);
        }
        multiplot.SavePng(path, 600 * metrics.Count, 1000);
    }

    /// <summary>Left-axis ticks at 1-2-5 steps per decade over the data's range, labelled with real values.</summary>
    private static void LogTicks(Plot plot, double[] values)
    {
        if (values.Length == 0) return;
        double lo = values.Min(), hi = values.Max();
        var ticks = Enumerable.Range(-9, 20).SelectMany(e => new[] { 1.0, 2.0, 5.0 }.Select(f => f * Math.Pow(10, e)))
            .Where(v => v >= lo / 2.5 && v <= hi * 2.5).ToArray();
        if (ticks.Length > 0) plot.Axes.Left.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(v => v.ToString("G3", Inv)).ToArray());
    }
}
