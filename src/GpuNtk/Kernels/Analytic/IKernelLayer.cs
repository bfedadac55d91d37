namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// One layer of the infinite-width recursion: maps the (NNGP, NTK) of its input representation to those of its
/// output (src/GpuNtk/Kernels/README.md, "Infinite-width kernels"). Implementations may overwrite the incoming
/// state's tensors and must not return them aliased with anything the caller keeps.
/// </summary>
public interface IKernelLayer
{
    /// <summary>Short description, e.g. <c>dense(wstd=1.414,bstd=0.1)</c>.</summary>
    string Name { get; }

    KernelState Apply(KernelState state, KernelContext context);
}
