namespace GpuNtk.Kernels.Analytic;

/// <summary>Which infinite-width kernels to compute.</summary>
[Flags]
public enum KernelKinds
{
    /// <summary>The NNGP K (covariance of the outputs at initialisation).</summary>
    Nngp = 1,
    /// <summary>The NTK Θ (needs K too; about twice the work of K alone).</summary>
    Ntk = 2,
    Both = Nngp | Ntk,
}

/// <summary>Options of an analytic (infinite-width) kernel computation.</summary>
/// <param name="Kinds">NNGP, NTK or both.</param>
/// <param name="MemoryBudgetBytes">Working memory of one block of X1×X2 (all temporaries); sets the block size.</param>
/// <param name="BlockSize">Examples per block side; 0: derived from <paramref name="MemoryBudgetBytes"/>, at most 2048.</param>
/// <param name="Progress">Receives the fraction of blocks done, in [0, 1].</param>
/// <param name="Cancellation">Checked between blocks.</param>
/// <param name="FuseCpuKernels">Let the grid pass fuse ReLU → dense into one SIMD pass on CPU float32 (same result to
/// float32 rounding, several times less memory traffic); false: tensor ops only.</param>
public sealed record AnalyticKernelOptions(
    KernelKinds Kinds = KernelKinds.Both,
    long MemoryBudgetBytes = 1L << 30,
    long BlockSize = 0,
    IProgress<double>? Progress = null,
    CancellationToken Cancellation = default,
    bool FuseCpuKernels = true)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field when a value is out of range.</summary>
    public void Validate()
    {
        if ((Kinds & KernelKinds.Both) == 0 || (Kinds & ~KernelKinds.Both) != 0)
            throw new ArgumentException($"Kinds = {Kinds}: use Nngp, Ntk or Both", nameof(Kinds));
        if (MemoryBudgetBytes < 1 << 20) throw new ArgumentException($"MemoryBudgetBytes = {MemoryBudgetBytes}: use at least 1 MiB", nameof(MemoryBudgetBytes));
        if (BlockSize < 0) throw new ArgumentException($"BlockSize = {BlockSize}: use 0 (automatic) or a positive size", nameof(BlockSize));
    }
}
