using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Examples on a device: <see cref="Inputs"/> <c>[N, …]</c> (the model's dtype), <see cref="Labels"/> <c>[N]</c> int64
/// class indices in 0…K−1, <see cref="Targets"/> <c>[N, O]</c> regression targets. Owns its tensors.
/// </summary>
public sealed class LabeledData : IDisposable
{
    public LabeledData(Tensor inputs, Tensor labels, Tensor targets, int classes)
    {
        if (inputs.shape[0] != labels.shape[0] || targets.shape[0] != labels.shape[0] || labels.dim() != 1 || targets.dim() != 2)
            throw new ArgumentException($"inputs [{string.Join(", ", inputs.shape)}], labels [{string.Join(", ", labels.shape)}] " +
                                        $"and targets [{string.Join(", ", targets.shape)}] must be [N, …], [N] and [N, O]");
        Inputs = inputs;
        Labels = labels;
        Targets = targets;
        Classes = classes;
    }

    public Tensor Inputs { get; }
    public Tensor Labels { get; }
    public Tensor Targets { get; }
    public int Classes { get; }
    public long Count => Labels.shape[0];
    /// <summary>True for regression data without classes (<see cref="Classes"/> = 0): accuracies do not apply.</summary>
    public bool IsRegression => Classes == 0;
    public long Outputs => Targets.shape[1];

    /// <summary>The examples at <paramref name="indices"/> (copies).</summary>
    public LabeledData Select(Tensor indices) =>
        new(Inputs.index_select(0, indices), Labels.index_select(0, indices), Targets.index_select(0, indices), Classes);

    /// <summary>The first <paramref name="count"/> examples (copies; all when count ≥ N).</summary>
    public LabeledData Take(long count)
    {
        long n = Math.Min(count, Count);
        return new(Inputs.narrow(0, 0, n).clone(), Labels.narrow(0, 0, n).clone(), Targets.narrow(0, 0, n).clone(), Classes);
    }

    public void Dispose()
    {
        Inputs.Dispose();
        Labels.Dispose();
        Targets.Dispose();
    }
}
