using GpuNtk.Networks;
using System.Globalization;

namespace GpuNtk.Experiments.Linearization;

/// <summary>All measurements of a sweep, with the learning rate used and the width-scaling fits.</summary>
public sealed class LinearizationSweepResult
{
    public LinearizationSweepResult(LinearizationSweepConfig config, IReadOnlyList<SweepRecord> records, double learningRate,
                                    double? maxLearningRate, string data)
    {
        Config = config;
        Records = records;
        LearningRate = learningRate;
        MaxLearningRate = maxLearningRate;
        Data = data;
    }

    public LinearizationSweepConfig Config { get; }
    public IReadOnlyList<SweepRecord> Records { get; }
    public double LearningRate { get; }
    /// <summary>The η_max estimate the learning rate came from (null when it was given).</summary>
    public double? MaxLearningRate { get; }
    public string Data { get; }

    public IReadOnlyList<long> Widths => Config.Widths;
    public IReadOnlyList<int> Steps => Records.Select(r => r.Step).Distinct().Order().ToList();
    public int FinalStep => Records.Max(r => r.Step);

    /// <summary>A metric at one step, averaged over seeds, per width (NaN where missing).</summary>
    public double[] MeanOverSeeds(Func<SweepRecord, double> metric, int step) =>
        Widths.Select(w =>
        {
            var values = Records.Where(r => r.Width == w && r.Step == step).Select(metric).ToArray();
            return values.Length == 0 ? double.NaN : values.Average();
        }).ToArray();

    /// <summary>The log-log fit of a metric against width at one step.</summary>
    public LogLogFit? SlopeAt(Func<SweepRecord, double> metric, int step) =>
        LogLogFit.Fit(Widths.Select(w => (double)w).ToArray(), MeanOverSeeds(metric, step));

    /// <summary>
    /// A plain-text report: the metrics per width at the end, their log-log slopes against width at the end and at
    /// every measured step, and the theory to compare with.
    /// </summary>
    public string Summary()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        int final = FinalStep;
        sb.AppendLine(inv, $"data: {Data}");
        string rate = LearningRate.ToString("G4", inv) +
                      (MaxLearningRate is { } m ? $" ({Config.LearningRateFraction.ToString(inv)}·η_max, η_max ≈ {m.ToString("G4", inv)})" : "");
        sb.AppendLine(inv, $"network: fcn depth={Config.Depth} act={Config.Activation.ToName()} param={Config.Parameterization.ToName()}; full-batch GD, MSE, {final} steps, η = {rate}, {Config.Seeds} seed(s)");
        sb.AppendLine();
        sb.AppendLine(inv, $"at t = {final} (means over seeds):");
        sb.AppendLine(inv, $"{"width",7} {"train loss",11} {"(lin)",9} {"test acc",9} {"(lin)",7} {"‖f−f_lin‖",11} {"ΔΘ/Θ0",10} {"‖Δθ‖/√n",10}");
        var rows = new[]
        {
            MeanOverSeeds(r => r.TrainLoss, final), MeanOverSeeds(r => r.TrainLossLinear, final), MeanOverSeeds(r => r.TestAccuracy, final),
            MeanOverSeeds(r => r.TestAccuracyLinear, final), MeanOverSeeds(r => r.OutputGapTest, final), MeanOverSeeds(r => r.KernelChange, final),
            MeanOverSeeds(r => r.ParameterChange, final),
        };
        for (int i = 0; i < Widths.Count; i++)
        {
            sb.AppendLine(inv, $"{Widths[i],7} {rows[0][i],11:G4} {rows[1][i],9:G4} {rows[2][i],9:F3} {rows[3][i],7:F3} {rows[4][i],11:G4} {rows[5][i],10:G4} {rows[6][i],10:G4}");
        }
        sb.AppendLine();
        sb.AppendLine("log-log slope against width (theory: −0.5 or steeper), at each measured time:");
        sb.Append(inv, $"{"t",5}");
        foreach (var (name, _) in SweepRecord.ScalingMetrics) sb.Append(inv, $"  {name,28}");
        sb.AppendLine();
        foreach (var step in Steps.Where(s => s > 0))
        {
            sb.Append(inv, $"{step,5}");
            foreach (var (_, metric) in SweepRecord.ScalingMetrics)
            {
                var fit = SlopeAt(metric, step);
                sb.Append(fit is null ? $"  {"—",28}" : $"  {$"{fit.Slope.ToString("F3", inv)} (R² {fit.RSquared.ToString("F3", inv)})",28}");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>Writes every record as CSV (invariant culture, one header line).</summary>
    public void WriteCsv(TextWriter writer)
    {
        writer.WriteLine("width,seed,step,time,train_loss,train_loss_lin,test_loss,test_loss_lin,test_accuracy,test_accuracy_lin," +
                         "output_gap_test_rms,output_gap_train_rms,ntk_relative_change,param_change_over_sqrt_width,lin_param_change_over_sqrt_width");
        foreach (var r in Records)
        {
            writer.WriteLine(string.Join(",", new object[]
            {
                r.Width, r.Seed, r.Step, r.Step, r.TrainLoss, r.TrainLossLinear, r.TestLoss, r.TestLossLinear, r.TestAccuracy,
                r.TestAccuracyLinear, r.OutputGapTest, r.OutputGapTrain, r.KernelChange, r.ParameterChange, r.LinearParameterChange,
            }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
        }
    }
}
