using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// One piece of a run's state in the checkpoint: its tensors are stored as <c>Prefix + name</c> and handed back under
/// their own names. The checkpoint knows nothing else about the piece.
/// </summary>
internal sealed record CheckpointPart(string Prefix, Func<IEnumerable<(string Name, Tensor Value)>> Save, Action<IReadOnlyDictionary<string, Tensor>> Load)
{
    /// <summary>A module's trainable parameters and buffers, by their state_dict names; loading requires every one of them.</summary>
    public static CheckpointPart Module(string prefix, nn.Module<Tensor, Tensor> module, string source, bool buffers = true) => new(prefix,
        () => TrainedState(module, buffers),
        state =>
        {
            using var noGrad = no_grad();
            foreach (var (name, t) in TrainedState(module, buffers))
            {
                if (!state.TryGetValue(name, out var saved))
                    throw new InvalidDataException($"{source} has no tensor {prefix}{name}: it was written for another module");
                if (!saved.shape.SequenceEqual(t.shape))
                    throw new InvalidDataException($"{source}: {prefix}{name} is [{string.Join(", ", saved.shape)}], the module's [{string.Join(", ", t.shape)}]");
                t.copy_(saved);
            }
        });

    private static IEnumerable<(string Name, Tensor Value)> TrainedState(nn.Module<Tensor, Tensor> module, bool buffers) =>
        module.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, (Tensor)p.parameter))
            .Concat(buffers ? module.named_buffers().Select(b => (b.name, b.buffer)) : []);
}
