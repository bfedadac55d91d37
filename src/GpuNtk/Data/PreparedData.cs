using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>Preprocessed training and test examples on the device, with the statistics used to standardise them.</summary>
public sealed class PreparedData : IDisposable
{
    public PreparedData(LabeledData train, LabeledData test, double[] channelMean, double[] channelStd, DataOptions options,
        string? description = null)
    {
        Description = description ?? $"{DataOptions.SourceName(options.Source)} ({options.Directory})";
        Train = train;
        Test = test;
        ChannelMean = channelMean;
        ChannelStd = channelStd;
        Options = options;
    }

    public LabeledData Train { get; }
    public LabeledData Test { get; }
    /// <summary>Per-channel mean of the training inputs (pixels in [0, 1]); zeros when not standardised.</summary>
    public IReadOnlyList<double> ChannelMean { get; }
    /// <summary>Per-channel standard deviation of the training inputs; ones when not standardised.</summary>
    public IReadOnlyList<double> ChannelStd { get; }
    public DataOptions Options { get; }
    /// <summary>What was read and from where, e.g. <c>Fashion-MNIST (/usr/share/datasets/fashion-mnist)</c>.</summary>
    public string Description { get; }

    public string Describe() =>
        $"{Description}: {Train.Count} train / {Test.Count} test, " +
        (Train.IsRegression ? $"regression, {Train.Outputs} target(s)"
            : $"{Train.Classes} classes" + (Options.Classes is { } c ? $" [{string.Join(",", c)}]" : "") + $", targets {Options.Targets.ToName()}");

    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
