namespace GpuNtk.Training.Telemetry;

/// <summary>
/// One telemetry record: named values in a fixed column order (the same in every row of a run). NaN means "not
/// available at this row" (e.g. the minibatch loss at step 0); sinks write it as an empty cell / JSON null.
/// </summary>
public sealed class MetricsRow
{
    private readonly List<KeyValuePair<string, double>> _values = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public MetricsRow(long step) => Step = step;

    public long Step { get; }
    public IReadOnlyList<KeyValuePair<string, double>> Values => _values;
    public IEnumerable<string> Columns => _values.Select(v => v.Key);

    public MetricsRow Add(string name, double value)
    {
        if (!_index.TryAdd(name, _values.Count)) throw new ArgumentException($"metric '{name}' added twice");
        _values.Add(new(name, value));
        return this;
    }

    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>The value of <paramref name="name"/>, or NaN when the row has no such column.</summary>
    public double this[string name] => _index.TryGetValue(name, out int i) ? _values[i].Value : double.NaN;
}

/// <summary>Column names written by the trainer, in one place.</summary>
public static class Metric
{
    public const string Step = "step";
    public const string Time = "time";
    public const string WallSeconds = "wall_s";
    public const string ExamplesPerSecond = "examples_per_s";
    public const string BatchLoss = "batch_loss";
    public const string TrainLoss = "train_loss";
    public const string TrainAccuracy = "train_acc";
    public const string TestLoss = "test_loss";
    public const string TestAccuracy = "test_acc";
    public const string NtkChange = "ntk_change";
    public const string NtkLambdaMax = "ntk_lambda_max";
    public const string NtkLambdaMin = "ntk_lambda_min";
    public const string NtkCondition = "ntk_condition";
    public const string NtkAlignment = "ntk_alignment";
    public const string ParamDrift = "param_drift";
    public const string ParamDistance = "param_dist";
    public const string ParamDistancePerSqrtWidth = "param_dist_per_sqrt_width";
    /// <summary>Prefix of the per-layer relative drift columns, followed by the layer's module path (e.g. <c>drift/layers.1</c>).</summary>
    public const string LayerDriftPrefix = "drift/";
    public const string LinearizationError = "lin_error";
    public const string LinearizationRmse = "lin_rmse";
    public const string LinearizationTestRmse = "lin_test_rmse";
    public const string LinearizedTrainLoss = "lin_train_loss";
    public const string LinearizedTestLoss = "lin_test_loss";
    public const string LinearizedTestAccuracy = "lin_test_acc";
    /// <summary>‖θt − θ0‖ of the linearized companion's trainable parameters (for the first-order model, ‖δ‖).</summary>
    public const string LinearizedParamDistance = "lin_param_dist";

    /// <summary>Columns that measure the machine rather than the mathematics (they differ between identical runs).</summary>
    public static bool IsTiming(string name) => name is WallSeconds or ExamplesPerSecond;
}
