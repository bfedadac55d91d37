using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// The infinite-width NNGP and NTK of a network, in closed form (recursion and conventions:
/// src/GpuNtk/Kernels/README.md, "Infinite-width kernels"). Built from the same architecture specs as the networks;
/// computed on the inputs' device and dtype, block by block so that only one block's temporaries live at a time.
/// <para>
/// Two passes: a pair pass runs every input with itself and records the self-variances in front of each
/// nonlinearity; the grid pass then runs each block of X1×X2 (for X2 = X1 only the blocks on and above the diagonal,
/// mirrored) reading those variances.
/// </para>
/// </summary>
public sealed class AnalyticKernel
{
    /// <summary>Temporaries alive at once in a block, in units of one block tensor (measured on the duals; generous).</summary>
    private const long WorkingCopies = 12;

    /// <summary>
    /// Largest automatic block side: the elementwise passes are memory-bound, and beyond ~2048² entries a block's
    /// temporaries fall out of cache, so larger blocks of tensor ops get slower (the fused CPU kernel does not care).
    /// </summary>
    private const long MaxAutomaticBlock = 2048;

    public AnalyticKernel(IKernelInput input, IReadOnlyList<IKernelLayer> layers)
    {
        Input = input ?? throw new ArgumentNullException(nameof(input));
        Layers = layers ?? throw new ArgumentNullException(nameof(layers));
    }

    public IKernelInput Input { get; }
    public IReadOnlyList<IKernelLayer> Layers { get; }

    /// <summary>Layer names, one per line (for logs and <c>gpuntk kernel</c>).</summary>
    public override string ToString() => string.Join(" → ", Layers.Select(l => l.Name).Prepend(Input.GetType().Name));

    /// <summary>
    /// The kernel of the networks <see cref="NetworkFactory"/> builds for <paramref name="spec"/>. The layers are read
    /// off a narrow instance of the same spec, so the recursion cannot drift from the networks; only <c>param=ntk</c>
    /// has a width-independent limit.
    /// </summary>
    public static AnalyticKernel FromSpec(ArchitectureSpec spec, KernelLayerRegistry? layers = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        RequireNtkParameterization(spec);
        ArchitectureSpec skeleton = spec switch
        {
            FcnSpec f => f with { Width = 1, Outputs = 1 },
            CnnSpec c => c with { Channels = 1, Outputs = 1 },
            // k = 1 keeps 16 channels into the first group (identity shortcut); any k > 1 needs a 1×1 shortcut there.
            WideResNetSpec w => w with { WidenFactor = Math.Min(w.WidenFactor, 2), Outputs = 1 },
            _ => throw new ArgumentException($"{spec}: no analytic kernel for architecture kind {spec.Kind}", nameof(spec)),
        };
        using var net = NetworkFactory.Create(skeleton, seed: 0, ScalarType.Float32);
        return FromNetwork(net, layers);
    }

    /// <summary>Parses <paramref name="spec"/> (<see cref="ArchitectureSpec.Parse"/>) and builds its kernel.</summary>
    public static AnalyticKernel FromSpec(string spec, KernelLayerRegistry? layers = null) => FromSpec(ArchitectureSpec.Parse(spec), layers);

    /// <summary>
    /// The kernel of <paramref name="network"/>'s architecture (its parameters' values play no part): its first layer
    /// gives the input kernel, every other layer the kernel layer <paramref name="layers"/> registers for its type
    /// (null: <see cref="KernelLayerRegistry.CreateDefault"/>).
    /// </summary>
    public static AnalyticKernel FromNetwork(Network network, KernelLayerRegistry? layers = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        RequireNtkParameterization(network.Spec);
        var modules = network.Layers;
        IKernelInput input = modules.Count > 0 ? modules[0] switch
        {
            FlattenLayer => new FlatKernelInput(network.Spec.InputSize),
            ToImageLayer t => new ImageKernelInput(t.Channels, t.Size, t.Size),
            _ => throw new ArgumentException($"{network.Spec}: a network must start with a flatten or to-image layer", nameof(network)),
        } : throw new ArgumentException($"{network.Spec}: the network has no layers", nameof(network));
        return new AnalyticKernel(input, KernelLayerBuilder.Sequence(layers ?? KernelLayerRegistry.CreateDefault(),
            network.Spec.ToString(), modules.Skip(1)));
    }

    private static void RequireNtkParameterization(ArchitectureSpec spec)
    {
        if (spec.Parameterization != Parameterization.Ntk)
            throw new ArgumentException($"{spec}: analytic kernels need param=ntk — in the standard parameterization the NTK " +
                                        "grows with the width and has no finite limit; use param=ntk");
    }

    /// <summary>NNGP and/or NTK <c>[N1, N2]</c> between <paramref name="x1"/> and <paramref name="x2"/> (null: X1).</summary>
    public InfiniteWidthKernels Compute(Tensor x1, Tensor? x2 = null, AnalyticKernelOptions? options = null)
    {
        options ??= new AnalyticKernelOptions();
        options.Validate();
        ValidateInputs(x1, x2);
        bool symmetric = x2 is null;
        x2 ??= x1;
        bool wantNngp = options.Kinds.HasFlag(KernelKinds.Nngp), trackNtk = options.Kinds.HasFlag(KernelKinds.Ntk);
        long n1 = x1.shape[0], n2 = x2.shape[0];
        long perPair = PairElements * x1.element_size() * WorkingCopies;
        long block = options.BlockSize > 0 ? options.BlockSize
            : Math.Clamp((long)Math.Sqrt(options.MemoryBudgetBytes / (double)perPair), 1, MaxAutomaticBlock);

        using var vars1 = new SelfVariances();
        using var vars2Owned = symmetric ? null : new SelfVariances();
        var vars2 = vars2Owned ?? vars1;
        // For X2 = X1 the pair pass also gives the exact diagonal (an input with itself has correlation exactly 1
        // there, while the grid pass's Gram entries differ from it by rounding, which the ReLU dual amplifies to √ε).
        var diagonal = symmetric ? new List<(Tensor Nngp, Tensor? Ntk)>() : null;
        PairPass(x1, vars1, trackNtk: symmetric && trackNtk, options, collect: diagonal);
        if (!symmetric) PairPass(x2, vars2, trackNtk: false, options, collect: null);
        using var diagonalNngp = diagonal is null ? null : cat(diagonal.Select(d => d.Nngp).ToList(), 0);
        using var diagonalNtk = diagonal is null || !trackNtk ? null : cat(diagonal.Select(d => d.Ntk!).ToList(), 0);
        if (diagonal is not null) foreach (var (a, b) in diagonal) { a.Dispose(); b?.Dispose(); }

        var nngp = wantNngp ? empty(n1, n2, x1.dtype, x1.device) : null;
        var ntk = trackNtk ? empty(n1, n2, x1.dtype, x1.device) : null;
        try
        {
            long rowBlocks = (n1 + block - 1) / block, colBlocks = (n2 + block - 1) / block;
            long total = symmetric ? rowBlocks * (rowBlocks + 1) / 2 : rowBlocks * colBlocks, done = 0;
            for (long i0 = 0; i0 < n1; i0 += block)
            {
                long ni = Math.Min(block, n1 - i0);
                for (long j0 = symmetric ? i0 : 0; j0 < n2; j0 += block)
                {
                    options.Cancellation.ThrowIfCancellationRequested();
                    long nj = Math.Min(block, n2 - j0);
                    using var scope = NewDisposeScope();
                    var state = Input.Grid(x1.narrow(0, i0, ni), x2.narrow(0, j0, nj));
                    var context = KernelContext.ForGrid(trackNtk, vars1, i0, ni, vars2, j0, nj, options.FuseCpuKernels);
                    state = Finish(KernelLayers.ApplyAll(Layers, state, context), trackNtk);
                    if (nngp is not null) Store(nngp, state.Nngp, i0, j0, symmetric, diagonalNngp);
                    if (ntk is not null) Store(ntk, state.Ntk!, i0, j0, symmetric, diagonalNtk);
                    options.Progress?.Report(++done / (double)total);
                }
            }
        }
        catch
        {
            nngp?.Dispose();
            ntk?.Dispose();
            throw;
        }
        return new InfiniteWidthKernels(nngp, ntk);
    }

    /// <summary>Only the diagonal, K(xᵢ, xᵢ) and Θ(xᵢ, xᵢ): <c>[N]</c> each, in O(N) work.</summary>
    public InfiniteWidthKernels ComputeDiagonal(Tensor x, AnalyticKernelOptions? options = null)
    {
        options ??= new AnalyticKernelOptions();
        options.Validate();
        ValidateInputs(x, null);
        bool trackNtk = options.Kinds.HasFlag(KernelKinds.Ntk);
        var parts = new List<(Tensor Nngp, Tensor? Ntk)>();
        using var vars = new SelfVariances();
        PairPass(x, vars, trackNtk, options, parts);
        using var scope = NewDisposeScope();
        var nngp = cat(parts.Select(p => p.Nngp).ToList(), 0);
        var ntk = trackNtk ? cat(parts.Select(p => p.Ntk!).ToList(), 0) : null;
        foreach (var (a, b) in parts) { a.Dispose(); b?.Dispose(); }
        var result = new InfiniteWidthKernels(
            options.Kinds.HasFlag(KernelKinds.Nngp) ? nngp.MoveToOuterDisposeScope() : null, ntk?.MoveToOuterDisposeScope());
        return result;
    }

    /// <summary>NTK only; see <see cref="Compute"/>.</summary>
    public Tensor Ntk(Tensor x1, Tensor? x2 = null, AnalyticKernelOptions? options = null) =>
        Compute(x1, x2, (options ?? new AnalyticKernelOptions()) with { Kinds = KernelKinds.Ntk }).Ntk!;

    /// <summary>NNGP only; see <see cref="Compute"/>.</summary>
    public Tensor Nngp(Tensor x1, Tensor? x2 = null, AnalyticKernelOptions? options = null) =>
        Compute(x1, x2, (options ?? new AnalyticKernelOptions()) with { Kinds = KernelKinds.Nngp }).Nngp!;

    /// <summary>Entries of one pair's state at its largest (the input covariance over pixel pairs).</summary>
    private long PairElements => Input is ImageKernelInput img ? img.Height * img.Width * img.Height * img.Width : 1;

    private void PairPass(Tensor x, SelfVariances recording, bool trackNtk, AnalyticKernelOptions options,
        List<(Tensor Nngp, Tensor? Ntk)>? collect)
    {
        long n = x.shape[0];
        long perExample = PairElements * x.element_size() * WorkingCopies;
        long block = Math.Max(1, options.MemoryBudgetBytes / perExample);
        if (options.BlockSize > 0) block = Math.Min(block, options.BlockSize * options.BlockSize);
        for (long i0 = 0; i0 < n; i0 += block)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            long ni = Math.Min(block, n - i0);
            using var scope = NewDisposeScope();
            var state = Input.Pairs(x.narrow(0, i0, ni));
            state = Finish(KernelLayers.ApplyAll(Layers, state, KernelContext.ForPairs(recording, trackNtk)), trackNtk);
            collect?.Add((state.Nngp.DetachFromDisposeScope(), state.Ntk?.DetachFromDisposeScope()));
        }
    }

    /// <summary>Checks the recursion ended on features and materialises a still-zero NTK.</summary>
    private static KernelState Finish(KernelState state, bool trackNtk)
    {
        if (state.IsSpatial)
            throw new InvalidOperationException("the layers end on an image representation; end with flatten or global average pooling and a dense readout");
        return trackNtk && state.Ntk is null ? state with { Ntk = zeros_like(state.Nngp) } : state;
    }

    /// <summary>
    /// Writes a block; for X2 = X1 also its mirror image, and on the diagonal blocks makes the result exactly
    /// symmetric with the pair pass's diagonal.
    /// </summary>
    private static void Store(Tensor target, Tensor block, long i0, long j0, bool symmetric, Tensor? diagonal)
    {
        long ni = block.shape[0], nj = block.shape[1];
        using var dst = target.narrow(0, i0, ni).narrow(1, j0, nj);
        if (symmetric && i0 == j0)
        {
            using var blockT = block.t();
            dst.copy_(block).add_(blockT).mul_(0.5);
            using var dstDiagonal = dst.diagonal();
            using var exact = diagonal!.narrow(0, i0, ni);
            dstDiagonal.copy_(exact);
            return;
        }
        dst.copy_(block);
        if (!symmetric) return;
        using var dstT = target.narrow(0, j0, nj).narrow(1, i0, ni);
        using var transposed = block.t();
        dstT.copy_(transposed);
    }

    private void ValidateInputs(Tensor x1, Tensor? x2)
    {
        ArgumentNullException.ThrowIfNull(x1);
        foreach (var (x, name) in new[] { (x1, "x1"), (x2, "x2") })
        {
            if (x is null) continue;
            if (x.dtype is not (ScalarType.Float32 or ScalarType.Float64))
                throw new ArgumentException($"{name} has dtype {x.dtype}; analytic kernels need float32 or float64 inputs (convert with .to(float32))", name);
            if (x.dim() < 2 || x.shape[0] < 1 || x.numel() / x.shape[0] != Input.Features)
                throw new ArgumentException($"{name} has shape [{string.Join(", ", x.shape)}]; expected [N, {Input.Features}] " +
                                            $"or [N, …] with {Input.Features} features per example", name);
        }
        if (x2 is not null && (x2.dtype != x1.dtype || x2.device.ToString() != x1.device.ToString()))
            throw new ArgumentException($"x2 is {x2.dtype} on {x2.device} but x1 is {x1.dtype} on {x1.device}; give both on the same device and dtype", nameof(x2));
    }
}
