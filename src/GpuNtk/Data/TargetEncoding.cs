using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>How class labels become regression targets <c>[N, O]</c>.</summary>
public enum TargetEncoding
{
    /// <summary>1 for the true class, 0 elsewhere.</summary>
    OneHot,
    /// <summary>One-hot minus 0.1: 0.9 for the true class, −0.1 elsewhere (zero mean over 10 classes).</summary>
    Centered,
    /// <summary>+1 for the true class, −1 elsewhere; with one output and two classes, +1 for the second class and −1 for the first.</summary>
    Signed,
}

/// <summary>Encodes labels as targets and parses encoding names.</summary>
public static class Targets
{
    /// <summary>
    /// Targets <c>[N, outputs]</c> in <paramref name="dtype"/> on the labels' device. <paramref name="outputs"/> must equal
    /// <paramref name="classes"/>, or be 1 with two classes and <see cref="TargetEncoding.Signed"/> (a scalar ±1 target).
    /// </summary>
    public static Tensor Encode(Tensor labels, int classes, long outputs, TargetEncoding encoding, ScalarType dtype)
    {
        CheckOutputs(classes, outputs, encoding);
        using var scope = NewDisposeScope();
        if (outputs == 1) return labels.to(dtype).mul(2).sub_(1).unsqueeze(1).MoveToOuterDisposeScope();
        var oneHot = nn.functional.one_hot(labels, classes).to(dtype);
        var result = encoding switch
        {
            TargetEncoding.OneHot => oneHot,
            TargetEncoding.Centered => oneHot.sub(0.1),
            TargetEncoding.Signed => oneHot.mul(2).sub_(1),
            _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Throws naming the mismatch when a network with <paramref name="outputs"/> outputs cannot fit these targets.</summary>
    public static void CheckOutputs(int classes, long outputs, TargetEncoding encoding)
    {
        if (outputs == classes) return;
        if (outputs == 1 && classes == 2 && encoding == TargetEncoding.Signed) return;
        throw new ArgumentException($"the network has {outputs} output(s) but the data has {classes} classes: use out={classes} in the " +
                                    "architecture (or out=1 with two classes and signed ±1 targets)");
    }

    public static TargetEncoding Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "onehot" or "one-hot" => TargetEncoding.OneHot,
        "centered" or "centred" => TargetEncoding.Centered,
        "signed" or "pm1" or "±1" or "+-1" => TargetEncoding.Signed,
        _ => throw new ArgumentException($"targets '{text}': use one-hot, centered (0.9/−0.1) or signed (±1)"),
    };

    public static string ToName(this TargetEncoding e) => e switch
    {
        TargetEncoding.OneHot => "one-hot",
        TargetEncoding.Centered => "centered",
        _ => "signed",
    };
}
