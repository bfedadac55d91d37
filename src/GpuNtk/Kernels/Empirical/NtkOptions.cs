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
    /// <summary>Picks per model and shape (see EmpiricalNtk's documentation).</summary>
    Auto,
    /// <summary>Loops over examples and outputs with autograd; explicit J. For tests.</summary>
    Reference,
    /// <summary>Per-example Jacobians from batched autograd, contracted layer by layer.</summary>
    JacobianContraction,
    /// <summary>NTK-vector products (VJP, then JVP by double backward); never forms J.</summary>
    VectorProducts,
    /// <summary>Per-layer structured rules on activations and backprop signals; never forms J.</summary>
    Structured,
}

/// <summary>Options of an empirical NTK computation.</summary>
/// <param name="Output">Full, traced or diagonal.</param>
/// <param name="Implementation">Which algorithm.</param>
/// <param name="MemoryBudgetBytes">Working memory a block may use; sets the tile size of X1×X2.</param>
/// <param name="Progress">Receives the fraction of blocks done, in [0, 1].</param>
public sealed record NtkOptions(
    NtkOutput Output = NtkOutput.Full,
    NtkImplementation Implementation = NtkImplementation.Auto,
    long MemoryBudgetBytes = 1L << 30,
    IProgress<double>? Progress = null,
    CancellationToken Cancellation = default);
