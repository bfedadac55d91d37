using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>Which part of the NTK to compute (conventions: src/GpuNtk/Kernels/README.md).</summary>
public enum NtkOutput
{
    /// <summary><c>[N1, N2, O, O]</c>.</summary>
    Full,
    /// <summary><c>[N1, N2]</c>, the mean over outputs of the diagonal.</summary>
    Trace,
    /// <summary>Θ(x_i, x_i) only: <c>[N, O, O]</c>.</summary>
    DiagonalFull,
    /// <summary>Θ(x_i, x_i) only, traced: <c>[N]</c>.</summary>
    DiagonalTrace,
}

/// <summary>How the NTK is computed. All implementations agree to rounding; they differ in speed and memory.</summary>
public enum NtkImplementation
{
    /// <summary>Picks per model (see <see cref="EmpiricalNtk.Resolve"/>).</summary>
    Auto,
    /// <summary>Loops over examples and outputs with autograd; explicit J. For tests.</summary>
    Reference,
    /// <summary>Per-example Jacobians from batched autograd, contracted layer by layer.</summary>
    JacobianContraction,
    /// <summary>NTK-vector products (VJP, then JVP by double backward); never forms J; works for any module.</summary>
    VectorProducts,
    /// <summary>Per-layer structured rules on activations and backprop signals; never forms J.</summary>
    Structured,
}

/// <summary>Options of an empirical NTK computation.</summary>
/// <param name="Output">Full, traced or diagonal.</param>
/// <param name="Implementation">Which algorithm.</param>
/// <param name="MemoryBudgetBytes">Working memory a block may use; sets the tile size of X1×X2.</param>
/// <param name="Progress">Receives the fraction of blocks done, in [0, 1].</param>
/// <param name="Cancellation">Checked between blocks (and between basis vectors of the vector-product method).</param>
/// <param name="BlockSize">Examples per tile; null: the largest tile that fits <paramref name="MemoryBudgetBytes"/>.</param>
/// <param name="AssembleOnHost">Assemble Θ in host (CPU) memory instead of on the model's device; blocks are still
/// computed on the device. For kernels larger than the device's memory.</param>
/// <param name="Devices">Devices to spread the blocks of Θ over, one worker thread each (see
/// <see cref="EmpiricalNtk"/>); null or empty: the model's device only. A device may be listed twice (two workers on
/// it). Each worker other than the one on the model's device uses a replica of the model, so the model must be a
/// <see cref="Networks.Network"/>. <paramref name="MemoryBudgetBytes"/> applies to each worker.</param>
/// <param name="Logger">Receives the tiling and, with several devices, the blocks each worker computed.</param>
public sealed record NtkOptions(
    NtkOutput Output = NtkOutput.Full,
    NtkImplementation Implementation = NtkImplementation.Auto,
    long MemoryBudgetBytes = 1L << 30,
    IProgress<double>? Progress = null,
    CancellationToken Cancellation = default,
    int? BlockSize = null,
    bool AssembleOnHost = false,
    IReadOnlyList<Device>? Devices = null,
    ILogger? Logger = null)
{
    /// <summary>
    /// Which rule serves each parameterized module in the structured and Jacobian-contraction methods; null: the
    /// built-in rules (<see cref="NtkRuleRegistry.CreateDefault"/>). Register a rule for your own layer type here.
    /// </summary>
    public NtkRuleRegistry? Rules { get; init; }

    /// <summary>
    /// Called on the worker's thread after each block (or diagonal tile) with the worker's index in
    /// <see cref="Devices"/>; for tests that check how blocks were distributed.
    /// </summary>
    internal Action<int>? BlockObserver { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a value is out of range.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Output)) throw new ArgumentException($"NtkOptions.Output: unknown value {Output}");
        if (!Enum.IsDefined(Implementation)) throw new ArgumentException($"NtkOptions.Implementation: unknown value {Implementation}");
        if (MemoryBudgetBytes < 1 << 20)
            throw new ArgumentException($"NtkOptions.MemoryBudgetBytes = {MemoryBudgetBytes}: give at least 1 MiB (1048576)");
        if (BlockSize is < 1) throw new ArgumentException($"NtkOptions.BlockSize = {BlockSize}: must be ≥ 1 (or null to size tiles from the memory budget)");
        for (int i = 0; i < (Devices?.Count ?? 0); i++)
        {
            var d = Devices![i] ?? throw new ArgumentException($"NtkOptions.Devices[{i}] is null: list devices such as cpu or cuda:0");
            if (d.type == TorchSharp.DeviceType.CUDA && (!cuda.is_available() || d.index >= cuda.device_count()))
                throw new ArgumentException($"NtkOptions.Devices[{i}] = {d}: only {(cuda.is_available() ? cuda.device_count() : 0)} CUDA device(s) " +
                                            "are usable here (DeviceSelector.AllComputeDevices() lists them)");
        }
    }

    /// <summary>True for the diagonal outputs (Θ(x_i, x_i) only).</summary>
    public bool IsDiagonal => Output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace;

    /// <summary>True for the outputs traced over the output index.</summary>
    public bool IsTraced => Output is NtkOutput.Trace or NtkOutput.DiagonalTrace;
}
