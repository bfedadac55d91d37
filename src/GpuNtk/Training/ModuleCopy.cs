using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Copies a module's state into another instance of the same architecture (TorchSharp has no deep copy).</summary>
internal static class ModuleCopy
{
    /// <summary>Moves <paramref name="target"/> to the source's dtype and device, copies every parameter (with its requires_grad) and buffer by name, and the training mode.</summary>
    public static nn.Module<Tensor, Tensor> Into(nn.Module<Tensor, Tensor> source, nn.Module<Tensor, Tensor> target)
    {
        var first = source.parameters().First();
        target.to(first.dtype).to(first.device);
        var from = source.state_dict();
        var to = target.state_dict();
        var differ = from.Keys.Except(to.Keys).Concat(to.Keys.Except(from.Keys)).ToList();
        if (differ.Count > 0)
            throw new ArgumentException($"Replicate built a module whose state_dict differs from the trained one ({string.Join(", ", differ.Take(5))}): it must build the same architecture");
        using (no_grad())
            foreach (var (name, t) in to) t.copy_(from[name]);
        var flags = source.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
        foreach (var (name, p) in target.named_parameters()) p.requires_grad_(flags[name]);
        target.train(source.training);
        return target;
    }
}
