using GpuNtk.Data;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Loss and gradient over a batch, accumulated over chunks of examples so memory stays bounded.</summary>
internal static class FullBatch
{
    /// <summary>Sets <c>p.grad</c> to ∇L over all of <paramref name="data"/> and returns L (a device scalar, detached).</summary>
    public static Tensor LossAndGradient(TrainedModel model, LabeledData data, LossKind loss, int chunk) =>
        LossAndGradient(model, data.Inputs, data.Targets, data.Labels, loss, chunk);

    /// <summary>Sets <c>p.grad</c> to ∇L over the examples given and returns L (a device scalar, detached).</summary>
    public static Tensor LossAndGradient(TrainedModel model, Tensor inputs, Tensor targets, Tensor labels, LossKind loss, int chunk)
    {
        model.ZeroGrad();
        long n = inputs.shape[0];
        Tensor? total = null;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long size = Math.Min(chunk, n - start);
            var f = model.Module.forward(size == n ? inputs : inputs.narrow(0, start, size));
            // Both losses are means over examples: weighting each chunk by its share gives the full-batch mean.
            var l = size == n ? Losses.Compute(loss, f, targets, labels)
                : Losses.Compute(loss, f, targets.narrow(0, start, size), labels.narrow(0, start, size)).mul((double)size / n);
            l.backward();
            var detached = l.detach();
            total = total is null ? detached.MoveToOuterDisposeScope() : total.add_(detached);
        }
        return total!;
    }
}
