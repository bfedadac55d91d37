using GpuNtk.Data;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// One optimizer step per call for every trained model, on the same minibatch (or the full batch), with the same
/// augmentation draw: gradient, optional clipping, update with the scheduled learning rate.
/// </summary>
internal sealed class DiscreteStepper(IReadOnlyList<TrainedModel> models, LabeledData train, TrainConfig config, MinibatchSampler sampler,
    ImageAugmentation? augmentation)
{
    /// <summary>Takes one step at rate <paramref name="learningRate"/>; returns the network's loss on the batch before the step (device scalar, detached).</summary>
    public Tensor Step(double learningRate)
    {
        using var scope = NewDisposeScope();
        var idx = sampler.Next();
        var x = sampler.IsFullBatch ? train.Inputs : train.Inputs.index_select(0, idx);
        var y = sampler.IsFullBatch ? train.Targets : train.Targets.index_select(0, idx);
        var labels = sampler.IsFullBatch ? train.Labels : train.Labels.index_select(0, idx);
        if (augmentation is not null) x = augmentation.Apply(x);
        Tensor? loss = null;
        foreach (var m in models)
        {
            var l = FullBatch.LossAndGradient(m, x, y, labels, config.Loss, config.FullBatchChunk);
            if (config.ClipNorm is { } clip) GradientClipping.ClipTotalNorm(m.Parameters, clip);
            m.Optimizer!.Step(learningRate);
            loss ??= l;
        }
        return loss!.MoveToOuterDisposeScope();
    }
}
