using GpuNtk.Kernels.Empirical;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The kernels K⁽²⁾…K⁽ᵖ⁾ of the neural tangent hierarchy on a probe set A and a training set T. The first index runs
/// over the probes, the others over the training points: traced (or one output) <c>K2 [|A|, n]</c>,
/// <c>K3 [|A|, n, n]</c>, <c>K4 [|A|, n, n, n]</c>; full, r output axes follow the r example axes:
/// <c>K2 [|A|, n, O, O]</c>, <c>K3 [|A|, n, n, O, O, O]</c>, <c>K4 [|A|, n, n, n, O, O, O, O]</c>
/// (src/GpuNtk/Kernels/README.md, src/GpuNtk/Dynamics/Hierarchy/README.md). Owns its tensors.
/// </summary>
public sealed class HierarchyKernelSet(Tensor k2, Tensor? k3, Tensor? k4, NtkOutput output = NtkOutput.Trace) : IDisposable
{
    public Tensor K2 { get; } = k2;
    public Tensor? K3 { get; } = k3;
    public Tensor? K4 { get; } = k4;

    /// <summary><see cref="NtkOutput.Trace"/> or <see cref="NtkOutput.Full"/>.</summary>
    public NtkOutput Output { get; } = output;

    /// <summary>O when <see cref="Output"/> is full; 1 when traced (no output axes).</summary>
    public long Outputs => Output == NtkOutput.Full ? K2.shape[^1] : 1;

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

    /// <summary>
    /// K⁽ʳ⁾ over (example, output) pairs, example-major (<c>i·O + a</c>, the NTK's row order): <c>[|A|·O, n·O, …]</c> —
    /// the scalar hierarchy of F(x_i, a) = f_a(x_i), which is what the dynamics integrate. A view when traced.
    /// </summary>
    public Tensor OverPairs(int r)
    {
        var k = Order(r);
        if (Output != NtkOutput.Full) return k.alias();
        var pairs = Enumerable.Range(0, r).SelectMany(i => new long[] { i, r + i }).ToArray();
        var shape = Enumerable.Range(0, r).Select(i => k.shape[i] * k.shape[r + i]).ToArray();
        return k.permute(pairs).reshape(shape);
    }

    /// <summary>The inverse of <see cref="OverPairs"/>: <c>[N1·O, N2·O, …]</c> (r axes) → <c>[N1, N2, …, O, …, O]</c>.</summary>
    internal static Tensor FromPairs(Tensor pairs, long outputs)
    {
        int r = (int)pairs.dim();
        var split = pairs.shape.SelectMany(s => new[] { s / outputs, outputs }).ToArray();
        var order = Enumerable.Range(0, r).Select(i => (long)(2 * i)).Concat(Enumerable.Range(0, r).Select(i => (long)(2 * i + 1))).ToArray();
        return pairs.view(split).permute(order);
    }

    public void Dispose()
    {
        K2.Dispose();
        K3?.Dispose();
        K4?.Dispose();
    }
}
