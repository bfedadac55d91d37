using GpuNtk.Data;
using GpuNtk.Training.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// Everything one <see cref="TrainingRun.Run"/> call owns besides the module and the data: the fixed probes, the
/// linearized companion, the trained models with their optimizers, the minibatch sampler, the augmentation and the
/// telemetry; and the list of <see cref="CheckpointPart"/>s that make up its checkpoint.
/// </summary>
internal sealed class RunSession : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public RunSession(nn.Module<Tensor, Tensor> module, LabeledData train, LabeledData test, TrainConfig config, TrainerHooks hooks, double learningRate, string source)
    {
        try
        {
            ProbeTrain = Own(ProbeSubset(train, config.ProbeTrain, config.Seed + 101));
            ProbeTest = Own(ProbeSubset(test, config.ProbeTest, config.Seed + 202));
            CheckOutputs(module, ProbeTrain);
            var companion = config.Linearize ? hooks.CreateCompanion(module) : null;
            if (companion is not null) Own(companion);
            // A data set smaller than the probe: the NTK probe shrinks with it.
            Telemetry = Own(new ProbeTelemetry(module, ProbeTrain, ProbeTest, config.Loss, (int)Math.Min(config.NtkProbe ?? ProbeSizes.DefaultNtkExamples(module, ProbeTrain.Inputs), ProbeTrain.Count), companion, config.Width));
            Models = [Own(new TrainedModel("model", module, config, learningRate))];
            if (companion is not null) Models.Add(Own(new TrainedModel("linearized", companion, config, learningRate)));
            Sampler = Own(new MinibatchSampler(train.Count, config.BatchSize == 0 ? train.Count : config.BatchSize, config.Seed + 303, train.Inputs.device));
            if (config.Augment)
            {
                ImageAugmentation.CheckImages(train.Inputs);
                Augmentation = Own(new ImageAugmentation(config.Seed + 404));
            }
            Parts = BuildParts(source);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public LabeledData ProbeTrain { get; } = null!;
    public LabeledData ProbeTest { get; } = null!;
    public ProbeTelemetry Telemetry { get; } = null!;
    /// <summary>The module first, then its companion if any.</summary>
    public List<TrainedModel> Models { get; } = null!;
    public MinibatchSampler Sampler { get; } = null!;
    public ImageAugmentation? Augmentation { get; }
    public IReadOnlyList<CheckpointPart> Parts { get; } = [];

    private List<CheckpointPart> BuildParts(string source)
    {
        var parts = new List<CheckpointPart>();
        foreach (var m in Models)
        {
            parts.Add(CheckpointPart.Module(m.Name + ".", m.Module, source));
            if (m.Optimizer is { } opt) parts.Add(new CheckpointPart($"optim.{m.Name}.", opt.SaveState, opt.LoadState));
        }
        parts.Add(new CheckpointPart("sampler.", Sampler.SaveState, Sampler.LoadState));
        if (Augmentation is { } a) parts.Add(new CheckpointPart("augment.", a.SaveState, a.LoadState));
        parts.Add(new CheckpointPart("", Telemetry.SaveState, Telemetry.LoadState));
        return parts;
    }

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    private static void CheckOutputs(nn.Module<Tensor, Tensor> module, LabeledData probe)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var f = module.call(probe.Inputs.narrow(0, 0, Math.Min(2, probe.Count)));
        if (f.dim() != 2 || f.shape[1] != probe.Outputs)
            throw new ArgumentException($"the module maps inputs [{string.Join(", ", probe.Inputs.shape.Skip(1))}] to [{string.Join(", ", f.shape.Skip(1))}] per example, " +
                                        $"the targets have {probe.Outputs} outputs: its output layer must have {probe.Outputs} units");
    }

    private static LabeledData ProbeSubset(LabeledData set, int count, long seed)
    {
        using var g = new Generator((ulong)seed);
        using var perm = randperm(set.Count, generator: g);
        using var idx = perm.narrow(0, 0, Math.Min(count, set.Count)).to(set.Labels.device);
        return set.Select(idx);
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}
