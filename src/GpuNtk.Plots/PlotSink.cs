using GpuNtk.Training.Telemetry;
using ScottPlot;

namespace GpuNtk.Plots;

/// <summary>
/// PNG plots against the step, written when the run ends (earlier rows of a resumed run included): <c>loss.png</c>
/// (probe train/test and minibatch loss, log scale), <c>accuracy.png</c>, <c>ntk_change.png</c> (‖Θt−Θ0‖F/‖Θ0‖F),
/// <c>drift.png</c> (‖θt−θ0‖/‖θ0‖ in total and per layer) and, when the column exists,
/// <c>linearization_error.png</c>. Plots whose columns are missing are not written.
/// </summary>
public sealed class PlotSink : ITelemetrySink
{
    private readonly List<MetricsRow> _rows = [];
    private string _out = ".";

    public IReadOnlyList<string> Written { get; private set; } = [];

    public void Begin(TelemetryRun run)
    {
        _out = run.OutputDirectory;
        _rows.AddRange(run.History);
    }

    public void Write(MetricsRow row) => _rows.Add(row);

    public void End(TrainingSummary summary)
    {
        if (_rows.Count < 2) return;
        var written = new List<string>();
        void Save(string name, string title, string yLabel, bool logY, params string[] columns)
        {
            var path = Chart(name, title, yLabel, logY, columns);
            if (path is not null) written.Add(path);
        }
        Save("loss.png", "Loss", "loss", true, Metric.TrainLoss, Metric.TestLoss, Metric.BatchLoss);
        Save("accuracy.png", "Accuracy (probe)", "accuracy", false, Metric.TrainAccuracy, Metric.TestAccuracy);
        Save("ntk_change.png", "NTK change ‖Θt − Θ0‖F / ‖Θ0‖F (probe)", "relative change", false, Metric.NtkChange);
        var drift = new[] { Metric.ParamDrift }.Concat(_rows[0].Columns.Where(c => c.StartsWith(Metric.LayerDriftPrefix, StringComparison.Ordinal))).ToArray();
        Save("drift.png", "Parameter drift ‖θt − θ0‖ / ‖θ0‖", "relative drift", false, drift);
        Save("linearization_error.png", "Linearization error ‖ft − flin,t‖ (probe RMSE)", "RMSE", false,
            Metric.LinearizationRmse, Metric.LinearizationTestRmse);
        Written = written;
    }

    private string? Chart(string name, string title, string yLabel, bool logY, string[] columns)
    {
        var present = columns.Where(c => _rows[0].Contains(c)).ToArray();
        if (present.Length == 0) return null;
        var plot = new Plot();
        foreach (var column in present)
        {
            var points = _rows.Where(r => double.IsFinite(r[column]) && (!logY || r[column] > 0)).ToArray();
            if (points.Length == 0) continue;
            var xs = points.Select(r => (double)r.Step).ToArray();
            var ys = points.Select(r => logY ? Math.Log10(r[column]) : r[column]).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = column;
            line.MarkerSize = points.Length > 60 ? 0 : 4;
        }
        if (logY)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                LabelFormatter = y => Math.Pow(10, y).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
            };
            plot.Axes.Left.TickGenerator = ticks;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel + (logY ? " (log scale)" : ""));
        plot.ShowLegend();
        var path = Path.Combine(_out, name);
        plot.SavePng(path, 900, 560);
        return path;
    }

    public void Dispose() { }
}
