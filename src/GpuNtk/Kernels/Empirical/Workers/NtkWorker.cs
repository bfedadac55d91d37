using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// One device's share of a blocked NTK: the kernel (bound to the model or to a replica on <see cref="Device"/>), the
/// inputs on that device, and what it owns (replica, input copies), released after every worker has stopped.
/// </summary>
internal sealed class NtkWorker(int index, Device device, INtkBlockKernel kernel, Tensor x1, Tensor? x2,
    Networks.Network? replica = null, IReadOnlyList<Tensor>? inputCopies = null) : IDisposable
{
    /// <summary>Position in <see cref="NtkOptions.Devices"/> (0 for the single-device case).</summary>
    public int Index { get; } = index;

    public Device Device { get; } = device;

    public INtkBlockKernel Kernel { get; } = kernel;

    /// <summary>X1 on <see cref="Device"/>; read only (workers share it when it already lives there).</summary>
    public Tensor X1 { get; } = x1;

    /// <summary>X2 on <see cref="Device"/>, or null for the symmetric case.</summary>
    public Tensor? X2 { get; } = x2;

    /// <summary>True when the kernel runs on a replica of the model rather than the model itself.</summary>
    public bool UsesReplica => replica is not null;

    public void Dispose()
    {
        foreach (var t in inputCopies ?? []) t.Dispose();
        replica?.Dispose();
    }
}
