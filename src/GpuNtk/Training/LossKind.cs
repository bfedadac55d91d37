using GpuNtk.Dynamics.Predictors;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Training losses (normalisations: src/GpuNtk/Kernels/README.md).</summary>
public enum LossKind
{
    /// <summary>L = 1/(2·N·O)·‖f − y‖² against the regression targets.</summary>
    Mse,
    /// <summary>Mean over examples of −log softmax(f)[label]; with one output, the logistic loss of ±1 labels.</summary>
    CrossEntropy,
}

/// <summary>Loss values and accuracies; every result is a device scalar (no host round-trip).</summary>
public static class Losses
{
    /// <summary>The loss a <see cref="LossKind"/> names (the one loss abstraction, in Dynamics).</summary>
    public static OutputLoss ToOutputLoss(this LossKind kind) => kind switch
    {
        LossKind.Mse => OutputLoss.MeanSquaredError,
        LossKind.CrossEntropy => OutputLoss.CrossEntropy,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The mean loss of <paramref name="output"/> <c>[N, O]</c> against <paramref name="targets"/> <c>[N, O]</c> / <paramref name="labels"/> <c>[N]</c>.</summary>
    public static Tensor Compute(LossKind kind, Tensor output, Tensor targets, Tensor labels) =>
        kind.ToOutputLoss().Value(output, targets, labels);

    /// <summary>Fraction of examples whose prediction (argmax, or the sign of a single output) equals the label.</summary>
    public static Tensor Accuracy(Tensor output, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var predicted = output.shape[1] == 1 ? output.squeeze(1).gt(0).to(ScalarType.Int64) : output.argmax(1);
        return predicted.eq(labels).to(ScalarType.Float64).mean().MoveToOuterDisposeScope();
    }

    public static LossKind Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "mse" => LossKind.Mse,
        "ce" or "xent" or "cross-entropy" or "crossentropy" => LossKind.CrossEntropy,
        _ => throw new ArgumentException($"--loss {text}: use mse or ce"),
    };

    public static string ToName(this LossKind kind) => kind == LossKind.Mse ? "mse" : "ce";
}
