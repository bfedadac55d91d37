using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The kernels K⁽²⁾…K⁽ᵖ⁾ of the neural tangent hierarchy on a probe set A and a training set T (scalar output):
/// <c>K2 [|A|, n]</c>, <c>K3 [|A|, n, n]</c>, <c>K4 [|A|, n, n, n]</c>; the first index runs over the probes, the
/// others over the training points (src/GpuNtk/Dynamics/Hierarchy/README.md). Owns its tensors.
/// </summary>
public sealed class HierarchyKernelSet(Tensor k2, Tensor? k3, Tensor? k4) : IDisposable
{
    public Tensor K2 { get; } = k2;
    public Tensor? K3 { get; } = k3;
    public Tensor? K4 { get; } = k4;

    /// <summary>The highest order present (2, 3 or 4).</summary>
    public int MaxOrder => K4 is not null ? 4 : K3 is not null ? 3 : 2;

    /// <summary>K⁽ʳ⁾ for r = 2, 3, 4.</summary>
    public Tensor Order(int r) => r switch
    {
        2 => K2,
        3 => K3 ?? throw new InvalidOperationException("K3 was not computed (maxOrder < 3)"),
        4 => K4 ?? throw new InvalidOperationException("K4 was not computed (maxOrder < 4)"),
        _ => throw new ArgumentOutOfRangeException(nameof(r), r, "orders 2, 3 and 4 are available"),
    };

    public void Dispose()
    {
        K2.Dispose();
        K3?.Dispose();
        K4?.Dispose();
    }
}
