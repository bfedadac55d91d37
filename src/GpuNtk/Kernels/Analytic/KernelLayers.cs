namespace GpuNtk.Kernels.Analytic;

/// <summary>Runs a sequence of kernel layers, freeing each intermediate state as soon as the next exists.</summary>
public static class KernelLayers
{
    public static KernelState ApplyAll(IReadOnlyList<IKernelLayer> layers, KernelState state, KernelContext context)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            KernelState next;
            if (i + 1 < layers.Count && CpuReluDenseFusion.CanFuse(layers[i], layers[i + 1], state, context))
                next = CpuReluDenseFusion.Apply((ActivationKernelLayer)layers[i], (DenseKernelLayer)layers[++i], state, context);
            else
                next = layers[i].Apply(state, context);
            Release(state, next);
            state = next;
        }
        return state;
    }

    /// <summary>Disposes the tensors of <paramref name="old"/> that <paramref name="next"/> did not take over (in-place ops return the same instance).</summary>
    private static void Release(KernelState old, KernelState next)
    {
        if (!ReferenceEquals(old.Nngp, next.Nngp) && !ReferenceEquals(old.Nngp, next.Ntk)) old.Nngp.Dispose();
        if (old.Ntk is not null && !ReferenceEquals(old.Ntk, next.Nngp) && !ReferenceEquals(old.Ntk, next.Ntk)) old.Ntk.Dispose();
    }
}
