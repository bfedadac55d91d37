using GpuNtk.Kernels.Empirical;
using Microsoft.Extensions.Logging;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>How the hierarchy's kernels are differentiated. All methods agree to rounding; they differ in speed and scope.</summary>
public enum HierarchyKernelMethod
{
    /// <summary>Structured for fully connected GpuNtk networks, looped otherwise.</summary>
    Auto,
    /// <summary>
    /// Fully connected networks only: autograd in the m coordinates of the gradient directions (each dense layer's
    /// direction is rank one), so no row ever holds P numbers. Fastest by far.
    /// </summary>
    Structured,
    /// <summary>
    /// Per-example parameter copies: Hessian-vector products and third-derivative contractions as P-sized rows by
    /// double/triple backward, batched (fully connected networks), projected onto the directions. Memory-bound.
    /// </summary>
    ParameterRows,
    /// <summary>Any module (CNN, WRN, your own): one autograd graph per row through the module itself. The generic path; slow.</summary>
    Looped,
}

/// <summary>Options of a higher-order kernel computation (<see cref="HierarchyKernels"/>).</summary>
/// <param name="Method">How to differentiate (<see cref="HierarchyKernelMethod"/>).</param>
/// <param name="MemoryBudgetBytes">
/// Working memory the computation may use: it sets how many (example, direction) rows go through autograd at once, and
/// bounds the one stored intermediate of K⁽⁴⁾ (the n² Hessian-vector products among training points — n²·P numbers
/// unless structured — which must fit in half of it).
/// </param>
/// <param name="Progress">Receives the fraction of the work done, in [0, 1].</param>
/// <param name="Cancellation">Checked between chunks.</param>
/// <param name="Logger">Receives the chosen backend and chunking.</param>
/// <param name="Output">
/// Output axes for a model with O outputs, the NTK's convention (src/GpuNtk/Kernels/README.md): <see cref="NtkOutput.Trace"/>
/// (K⁽ʳ⁾ without output axes: the mean over a of the hierarchy of the scalar network f_a) or <see cref="NtkOutput.Full"/>
/// (r output axes after the r example axes). The diagonal forms do not apply.
/// </param>
public sealed record HierarchyKernelOptions(
    HierarchyKernelMethod Method = HierarchyKernelMethod.Auto,
    long MemoryBudgetBytes = 2L << 30,
    IProgress<double>? Progress = null,
    CancellationToken Cancellation = default,
    ILogger? Logger = null,
    NtkOutput Output = NtkOutput.Trace)
{
    public void Validate()
    {
        if (MemoryBudgetBytes < 1 << 20)
            throw new ArgumentException($"MemoryBudgetBytes = {MemoryBudgetBytes}: give at least 1 MiB");
        if (Output is not (NtkOutput.Trace or NtkOutput.Full))
            throw new ArgumentException($"Output = {Output}: the hierarchy's kernels are Trace or Full (no diagonal form)");
    }
}
