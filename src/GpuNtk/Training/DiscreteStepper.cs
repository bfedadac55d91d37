using GpuNtk.Data;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>One optimizer step per call for every trained model, on the same minibatch (or the full batch).</summary>
internal sealed class DiscreteStepper(IReadOnlyList<TrainedModel> models, LabeledData train, TrainConfig config, MinibatchSampler sampler)
{
    /// <summary>Takes one step; returns the network's loss on the batch before the step (device scalar, detached).</summary>
    public Tensor Step()
    {
        if (sampler.IsFullBatch)
        {
            Tensor? first = null;
            foreach (var m in models)
            {
                var l = FullBatch.LossAndGradient(m, train, config.Loss, config.FullBatchChunk);
                m.Optimizer!.Step();
                if (first is null) first = l;
                else l.Dispose();
            }
            return first!;
        }
        using var scope = NewDisposeScope();
        var idx = sampler.Next();
        var x = train.Inputs.index_select(0, idx);
        var y = train.Targets.index_select(0, idx);
        var labels = train.Labels.index_select(0, idx);
        Tensor? loss = null;
        foreach (var m in models)
        {
            m.ZeroGrad();
            var l = Losses.Compute(config.Loss, m.Module.forward(x), y, labels);
            l.backward();
            m.Optimizer!.Step();
            loss ??= l.detach();
        }
        return loss!.MoveToOuterDisposeScope();
    }
}
