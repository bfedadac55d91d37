using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>Opens a sink for an output file of one kind: the layout to hold, the path, and this process's shard.</summary>
public delegate IKernelSink KernelSinkFactory(string path, KernelLayout layout, Shard shard);

/// <summary>
/// Picks the kernel sink for an output: memory when there is no path, otherwise the sink registered for the path's
/// extension (<c>.npy</c>: <see cref="NpyKernelFile"/>). A new file format is one sink class and one
/// <see cref="Register"/> call.
/// </summary>
public sealed class KernelSinks
{
    private readonly Dictionary<string, KernelSinkFactory> _byExtension = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The registry with the built-in file sinks (<c>.npy</c>).</summary>
    public static KernelSinks CreateDefault()
    {
        var sinks = new KernelSinks();
        sinks.Register(".npy", NpyKernelFile.Open);
        return sinks;
    }

    /// <summary>Makes <paramref name="factory"/> the sink for output paths ending in <paramref name="extension"/> (".npy").</summary>
    public void Register(string extension, KernelSinkFactory factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(extension);
        ArgumentNullException.ThrowIfNull(factory);
        _byExtension[extension.StartsWith('.') ? extension : "." + extension] = factory;
    }

    /// <summary>
    /// A file sink for <paramref name="path"/>, or a <see cref="MemoryKernelSink"/> on <paramref name="device"/> when
    /// <paramref name="path"/> is null (then <paramref name="shard"/> must be the single shard: memory is not shared).
    /// </summary>
    public IKernelSink Open(string? path, KernelLayout layout, Shard shard, Device device)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (path is null)
        {
            if (shard.Count != 1) throw new ArgumentException($"shard {shard}: a sharded kernel needs an output file shared by the workers");
            return new MemoryKernelSink(layout, device);
        }
        var ext = Path.GetExtension(path);
        if (!_byExtension.TryGetValue(ext, out var factory))
            throw new ArgumentException($"{path}: no kernel sink for '{ext}' files; write to a {string.Join(" or ", _byExtension.Keys)} file");
        return factory(path, layout, shard);
    }
}
