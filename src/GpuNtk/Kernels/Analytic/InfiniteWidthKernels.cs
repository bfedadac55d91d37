using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Infinite-width kernels between X1 and X2: <c>[N1, N2]</c> (or <c>[N]</c> for a diagonal), per output — the
/// limit of the traced (output-mean) empirical kernels; the full <c>[N1, N2, O, O]</c> limit is this ⊗ I_O.
/// A kind that was not asked for is null. Disposing disposes both.
/// </summary>
public sealed record InfiniteWidthKernels(Tensor? Nngp, Tensor? Ntk) : IDisposable
{
    public void Dispose()
    {
        Nngp?.Dispose();
        Ntk?.Dispose();
    }
}
