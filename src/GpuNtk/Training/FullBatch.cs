using GpuNtk.Data;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Full-batch loss and gradient, accumulated over chunks of examples so memory stays bounded.</summary>
internal static class FullBatch
{
    /// <summary>Sets <c>p.grad</c> to ∇L over all of <paramref name="data"/> and returns L (a device scalar, detached).</summary>
    public static Tensor LossAndGradient(TrainedModel model, LabeledData data, LossKind loss, int chunk)
    {
        model.ZeroGrad();
        long n = data.Count;
        Tensor? total = null;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long size = Math.Min(chunk, n - start);
            var x = data.Inputs.narrow(0, start, size);
            var f = model.Module.forward(x);
            // Both losses are means over examples: weighting each chunk by its share gives the full-batch mean.
            var l = Losses.Compute(loss, f, data.Targets.narrow(0, start, size), data.Labels.narrow(0, start, size));
            if (size != n) l = l.mul((double)size / n);
            l.backward();
            var detached = l.detach();
            total = total is null ? detached.MoveToOuterDisposeScope() : total.add_(detached);
        }
        return total!;
    }
}
