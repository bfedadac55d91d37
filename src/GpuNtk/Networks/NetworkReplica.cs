using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// Copies of a <see cref="Network"/> on another device (or on the same one, as an independent module): rebuilt from
/// its <see cref="Network.Spec"/>, then every parameter and buffer copied by name, with its <c>requires_grad</c>, and
/// the training mode. TorchSharp has no deep copy of a module, which is why this needs a GpuNtk network.
/// </summary>
public static class NetworkReplica
{
    public static Network Create(Network source, Device device)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(device);
        var dtype = source.DType;
        var replica = NetworkFactory.Create(source.Spec, seed: 0, dtype, device);
        try
        {
            CopyByName(source.named_parameters().Select(p => (p.name, (Tensor)p.parameter)),
                replica.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), "parameter", copyGradFlag: true);
            CopyByName(source.named_buffers().Select(b => (b.name, b.buffer)), replica.named_buffers().Select(b => (b.name, b.buffer)),
                "buffer", copyGradFlag: false);
            replica.train(source.training);
            return replica;
        }
        catch
        {
            replica.Dispose();
            throw;
        }
    }

    private static void CopyByName(IEnumerable<(string Name, Tensor Tensor)> source, IEnumerable<(string Name, Tensor Tensor)> target,
        string kind, bool copyGradFlag)
    {
        var from = source.ToDictionary(e => e.Name, e => e.Tensor);
        var to = target.ToDictionary(e => e.Name, e => e.Tensor);
        var missing = from.Keys.Except(to.Keys).Concat(to.Keys.Except(from.Keys)).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"the network does not match the network its spec builds ({kind}s {string.Join(", ", missing)} differ), " +
                                        "so it cannot be replicated; was it modified after NetworkFactory.Create?");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, dst) in to)
        {
            var src = from[name];
            if (!src.shape.SequenceEqual(dst.shape) || src.dtype != dst.dtype)
                throw new ArgumentException($"{kind} {name} is {src.dtype} [{string.Join(", ", src.shape)}] but its spec builds " +
                                            $"{dst.dtype} [{string.Join(", ", dst.shape)}]: the network cannot be replicated");
            dst.copy_(src);
            if (copyGradFlag) dst.requires_grad_(src.requires_grad);
        }
    }
}
