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
