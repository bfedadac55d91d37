using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// <see cref="Conv2dLayer"/>. With patches P_i = unfold(x_i) <c>[D = C_in·k², L]</c> and signals G_ia
/// <c>[C_out, L]</c>, ∂f_a(x_i)/∂W = WM·G_ia·P_iᵀ and ∂f_a(x_i)/∂b = BM·G_ia·1, so
/// Θ[i, a, j, b] += Σ_{l,l'} K_ij[l, l']·(G_iaᵀ·G_jb)[l, l'] with the pixel-pair kernel K_ij = WM²·P_iᵀP_j + BM².
/// Two contractions, chosen per block by <see cref="ConvNtkCost"/>:
/// <list type="bullet">
/// <item><b>pixel pairs</b> (<see cref="TryAccumulate"/>): K from one GEMM over all example pairs; traced, the signal
/// Gram summed over outputs and channels is one more GEMM in the same layout; full, T = K·G2ᵀ (one GEMM per column
/// example) then G1·Tᵀ (one per row example), so output channels are contracted before the output pairs appear.
/// Rows and columns are chunked so that K and T of a chunk stay within <see cref="DefaultChunkBytes"/> on the host
/// (half the memory budget on CUDA).</item>
/// <item><b>weight gradients</b> (<see cref="Jacobian"/>, when <see cref="TryAccumulate"/> declines): J for all (i, a)
/// by batched products over a few examples' patches at a time, a slice of output channels at a time when memory is
/// short.</item>
/// </list>
/// </summary>
internal sealed class Conv2dNtkRule(ConvGeometry layer, bool? forcePixelPairs = null, long chunkBytes = Conv2dNtkRule.DefaultChunkBytes) : ILayerNtkRule
{
    public Conv2dNtkRule(Conv2dLayer layer, bool? forcePixelPairs = null, long chunkBytes = DefaultChunkBytes)
        : this(ConvGeometry.Of(layer), forcePixelPairs, chunkBytes) { }

    /// <summary>GpuNtk's <see cref="Conv2dLayer"/>, or a TorchSharp <c>nn.Conv2d</c> that is an ordinary convolution.</summary>
    public static Conv2dNtkRule? TryCreate(nn.Module module) => module switch
    {
        Conv2dLayer c => new Conv2dNtkRule(c),
        TorchSharp.Modules.Conv2d c when ConvGeometry.TryOf(c) is { } g => new Conv2dNtkRule(g),
        _ => null,
    };

    private bool WeightTrained => layer.Weight.requires_grad;
    private bool BiasTrained => layer.Bias is { requires_grad: true };

    public long Slices(ModuleCall call) => layer.OutChannels;

    public long SliceWidth(ModuleCall call) => (WeightTrained ? layer.FanIn : 0) + (BiasTrained ? 1 : 0);

    private Tensor Patches(Tensor x) => nn.functional.unfold(x, (layer.KernelHeight, layer.KernelWidth),
        padding: (layer.PaddingHeight, layer.PaddingWidth), stride: (layer.StrideHeight, layer.StrideWidth)); // [N, D, L]

    /// <summary>
    /// Bytes of the intermediates either contraction forms at a time — a few examples' unfolded patches, or a few
    /// example pairs' pixel-pair kernels and contracted signals — rather than all of them at once: small buffers stay in
    /// memory the allocator reuses, whereas large ones are fresh pages faulted in on every call, which on some machines
    /// (virtual machines above all) costs more than the arithmetic; measurements in src/GpuNtk/Kernels/README.md.
    /// </summary>
    internal const long DefaultChunkBytes = 16L << 20;

    public Tensor Jacobian(ModuleCall call, long start, long count)
    {
        using var scope = NewDisposeScope();
        long n = call.Examples, o = call.Outputs, cout = count;
        var signal = call.Signal.narrow(2, start, count).reshape(n, o * cout, -1); // [N, O·C, L]
        long l = signal.shape[2], d = layer.FanIn;
        long width = (WeightTrained ? d : 0) + (BiasTrained ? 1 : 0);
        var j = empty([n, o, cout, width], signal.dtype, signal.device);
        if (WeightTrained)
        {
            // ∂f/∂W = WM·G·Pᵀ, a few examples' patches at a time.
            long rows = Math.Clamp(chunkBytes / Math.Max(1, d * l * signal.element_size()), 1, n);
            for (long s = 0; s < n; s += rows)
            {
                using var chunk = NewDisposeScope();
                long r = Math.Min(rows, n - s);
                var patches = Patches(call.Input.narrow(0, s, r)); // [r, D, L]
                var jw = signal.narrow(0, s, r).bmm(patches.transpose(1, 2)).mul_(layer.WeightMultiplier); // [r, O·C, D]
                j.narrow(0, s, r).narrow(3, 0, d).copy_(jw.view(r, o, cout, d));
            }
        }
        // ∂f/∂b = BM·G·1.
        if (BiasTrained) j.narrow(3, width - 1, 1).copy_(signal.sum(2).mul_(layer.BiasMultiplier).view(n, o, cout, 1));
        return j.view(n, o, cout * width).MoveToOuterDisposeScope();
    }

    /// <summary>The cost model's view of a block between calls <paramref name="c1"/> and <paramref name="c2"/>.</summary>
    internal ConvNtkCost Cost(ModuleCall c1, ModuleCall c2, NtkOutput output) => new(
        c1.Examples, c2.Examples, c1.Outputs, c1.Signal.shape[3] * c1.Signal.shape[4], layer.FanIn, layer.OutChannels,
        ReferenceEquals(c1, c2), output, c1.Signal.element_size());

    public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc)
    {
        if (!(forcePixelPairs ?? Cost(c1, c2, acc.Output).PixelPairsWin)) return false;
        long n1 = c1.Examples, n2 = c2.Examples, o = c1.Outputs, c = layer.OutChannels;
        long l = c1.Signal.shape[3] * c1.Signal.shape[4];
        bool diagonal = acc.IsDiagonal, traced = acc.Output == NtkOutput.Trace;
        // On the host, small chunks keep the intermediates in reused memory (see DefaultChunkBytes); CUDA's caching
        // allocator reuses blocks of any size, and there fewer, larger GEMMs (fewer kernel launches) win.
        long limit = acc.MemoryBudgetBytes / 2;
        if (c1.Signal.device.type == DeviceType.CPU) limit = Math.Min(limit, chunkBytes);
        var (rows, cols) = PixelPairChunk(n1, n2, o, c, l, c1.Signal.element_size(), acc.Output, limit);
        using var outer = NewDisposeScope();
        var g2 = c2.Signal.reshape(n2, o * c, l); // [N2, O·C, L]
        var p2 = WeightTrained ? Patches(c2.Input) : null; // [N2, D, L]
        for (long s = 0; s < n1; s += rows)
        {
            using var scope = NewDisposeScope();
            long r = Math.Min(rows, n1 - s);
            var g1 = c1.Signal.narrow(0, s, r).reshape(r, o * c, l);
            var p1 = WeightTrained ? Patches(c1.Input.narrow(0, s, r)) : null;
            if (diagonal)
            {
                acc.AddRows(s, DiagonalRows(p1, p2?.narrow(0, s, r), g1, g2.narrow(0, s, r), acc.Output, o));
                continue;
            }
            var parts = new List<Tensor>();
            for (long t = 0; t < n2; t += cols)
            {
                long w = Math.Min(cols, n2 - t);
                parts.Add(BlockRows(p1, p2?.narrow(0, t, w), g1, g2.narrow(0, t, w), acc.Output, o, w, l));
            }
            acc.AddRows(s, parts.Count == 1 ? parts[0] : cat(parts, traced ? 1 : 2));
        }
        return true;
    }

    /// <summary>
    /// Row and column examples per chunk of the pixel-pair contraction, so that its intermediates stay within
    /// <paramref name="chunkBytes"/>: per example pair K and the signal Gram (traced), or K, T and T's reordered copy
    /// (full); on the diagonal (columns = 1) K and T. Columns are filled first: T is one GEMM per column example, as
    /// wide as the rows of the chunk.
    /// </summary>
    internal static (long Rows, long Columns) PixelPairChunk(long n1, long n2, long o, long c, long l, long elementSize,
        NtkOutput output, long chunkBytes)
    {
        bool diagonal = output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace;
        long perPair = elementSize * (diagonal ? 2 * l * l + 2 * o * c * l : output == NtkOutput.Trace ? 2 * l * l : l * l + 2 * o * c * l);
        long pairs = Math.Max(1, chunkBytes / Math.Max(1, perPair));
        long cols = diagonal ? 1 : Math.Clamp(pairs, 1, n2);
        return (Math.Clamp(pairs / cols, 1, n1), cols);
    }

    /// <summary>
    /// K_ij[l, l'] = WM²·P_iᵀP_j + BM² for rows × columns from one GEMM, as <c>[r·L, N2·L]</c> (row example major) or,
    /// with <paramref name="columnsFirst"/>, as <c>[N2·L', r·L]</c>.
    /// </summary>
    private Tensor PixelPairKernel(Tensor? p1, Tensor? p2, long r, long n2, long l, ScalarType dtype, Device device, bool columnsFirst = false)
    {
        Tensor k;
        if (p1 is not null && p2 is not null)
        {
            long d = p1.shape[1];
            var rows = p1.transpose(1, 2).reshape(r * l, d);
            var columns = p2.transpose(1, 2).reshape(n2 * l, d);
            k = columnsFirst ? columns.matmul(rows.t()) : rows.matmul(columns.t());
            k.mul_(layer.WeightMultiplier * layer.WeightMultiplier);
        }
        else k = columnsFirst ? zeros([n2 * l, r * l], dtype, device) : zeros([r * l, n2 * l], dtype, device);
        if (BiasTrained) k.add_(layer.BiasMultiplier * layer.BiasMultiplier);
        return k;
    }

    private Tensor BlockRows(Tensor? p1, Tensor? p2, Tensor g1, Tensor g2, NtkOutput output, long o, long n2, long l)
    {
        long r = g1.shape[0], oc = g1.shape[1], c = oc / o;
        if (output == NtkOutput.Trace)
        {
            var k = PixelPairKernel(p1, p2, r, n2, l, g1.dtype, g1.device); // [r·L, N2·L']
            // Σ_a Σ_c G1[i, (a, c), l]·G2[j, (a, c), l'] in K's layout: outputs and channels leave in one GEMM.
            var sg = g1.transpose(1, 2).reshape(r * l, oc).matmul(g2.transpose(1, 2).reshape(n2 * l, oc).t());
            return sg.mul_(k).view(r, l, n2, l).sum([1L, 3L]); // [r, N2]
        }
        // K with the column example outermost makes T = K·G2ᵀ one large GEMM per column example j:
        // T[j, (b, c), (i, l)] = Σ_l' G2[j, (b, c), l']·K[j, l', (i, l)] — not r·N2 small ones over a permuted copy of K.
        var kc = PixelPairKernel(p1, p2, r, n2, l, g1.dtype, g1.device, columnsFirst: true).view(n2, l, r * l);
        var t = g2.bmm(kc); // [N2, O·C, r·L]
        // Θ[i, a, j, b] = Σ_{c, l} G1[i, a, (c, l)]·T[j, b, c, i, l]: one copy brings the row example outermost.
        var ti = t.view(n2, o, c, r, l).permute(3, 0, 1, 2, 4).reshape(r, n2 * o, c * l); // [r, N2·O, C·L]
        var theta = g1.reshape(r, o, c * l).bmm(ti.transpose(1, 2)); // [r, O, N2·O]
        return theta.view(r, o, n2, o);
    }

    private Tensor DiagonalRows(Tensor? p1, Tensor? p2, Tensor g1, Tensor g2, NtkOutput output, long o)
    {
        long r = g1.shape[0], l = g1.shape[2];
        Tensor k = p1 is not null && p2 is not null
            ? p1.transpose(1, 2).bmm(p2).mul_(layer.WeightMultiplier * layer.WeightMultiplier) // [r, L, L']
            : zeros([r, l, l], g1.dtype, g1.device);
        if (BiasTrained) k.add_(layer.BiasMultiplier * layer.BiasMultiplier);
        if (output == NtkOutput.DiagonalTrace)
            return g1.transpose(1, 2).bmm(g2).mul_(k).sum([1L, 2L]); // [r]
        var t = g2.bmm(k.transpose(1, 2)); // [r, O·C, L]
        long cl = g1.shape[1] / o * l;
        return g1.reshape(r, o, cl).bmm(t.reshape(r, o, cl).transpose(1, 2)); // [r, O, O]
    }
}
