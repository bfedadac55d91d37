using GpuNtk.Kernels.Sharding;
using GpuNtk.Kernels.Sinks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Entry point for the empirical NTK Θ(X1, X2) = J(X1)·J(X2)ᵀ of a module, J = ∂f/∂θ over all parameters that
/// require gradients. Conventions (shapes, trace = mean over outputs): src/GpuNtk/Kernels/README.md.
/// Inputs must be on the model's device and in its dtype; the result is too (or on the host with
/// <see cref="NtkOptions.AssembleOnHost"/>).
/// </summary>
/// <remarks>
/// <para>Implementations (all agree to rounding):</para>
/// <list type="bullet">
/// <item><see cref="NtkImplementation.Structured"/>: one capture pass per tile (inputs of every parameterized layer by
/// forward hooks; backprop signals of all N·O outputs by one forward pass and O backward passes through its graph),
/// then per-layer rules: dense layers add (WM²·AAᵀ + BM²)∘(GGᵀ) and never form J; convolutions choose per layer, by
/// a cost model, between a pixel-pair rule (patch Gram × signal Gram) and their per-example weight gradients;
/// LayerNorm/GroupNorm affine parameters and unknown modules contract their own per-example Jacobian (one layer at a
/// time). Rules come from <see cref="NtkOptions.Rules"/> (<see cref="NtkRuleRegistry"/>), where users add their own.</item>
/// <item><see cref="NtkImplementation.JacobianContraction"/>: the same capture, every layer through its per-example
/// Jacobian, contracted layer by layer.</item>
/// <item><see cref="NtkImplementation.VectorProducts"/>: Θ·e for every basis vector e by a VJP and a double-backward
/// JVP; no hooks, so it works for any module.</item>
/// <item><see cref="NtkImplementation.Reference"/>: explicit J by a per-example, per-output loop; for tests.</item>
/// </list>
/// <para><b>Auto</b> (<see cref="Resolve"/>): Structured, unless (a) forward hooks cannot see every trainable
/// parameter (a probe forward on one example checks), or (b) the capture pass of a single example — its O signals
/// per layer — would not fit in half the memory budget; then VectorProducts, which needs no hooks and only
/// two forward graphs. Structured is never slower than Jacobian contraction: it does the same work for layers without
/// a structured rule and strictly less for dense layers, and it is orders of magnitude faster than vector products
/// (which cost 2·N·O backward passes per block).</para>
/// <para>Memory: X1×X2 is tiled so that one block's working set fits <see cref="NtkOptions.MemoryBudgetBytes"/>.</para>
/// <para><b>Several devices</b> (<see cref="NtkOptions.Devices"/>): one worker thread per listed device, each with
/// its own replica of the network (the model itself on its own device), its own inputs and its own tile-feature
/// cache, takes blocks from a shared queue — a slower device simply takes fewer — and copies them into Θ, which is
/// assembled on the model's device (or the host). Same result as one device, to rounding.</para>
/// </remarks>
public static class EmpiricalNtk
{
    public static Tensor Compute(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2 = null, NtkOptions? options = null)
    {
        options ??= new NtkOptions();
        Validate(model, x1, x2, options);
        var plan = ModelPlan.Build(model, x1, options.Rules);
        var implementation = ResolvePlan(plan, options.Implementation, options.MemoryBudgetBytes);
        using var workers = NtkWorkerSet.Create(plan, implementation, x1, x2, options);
        return BlockedNtk.Assemble(workers, x1, x2, plan.Outputs, options);
    }

    /// <summary>
    /// The tiles <see cref="ComputeInto"/> cuts Θ(X1, X2) into: <see cref="NtkOptions.BlockSize"/>, or the largest
    /// tile whose block fits <see cref="NtkOptions.MemoryBudgetBytes"/> (one worker's sizing, whatever
    /// <see cref="NtkOptions.Devices"/> says, so that every shard of a kernel agrees on it).
    /// </summary>
    public static KernelTiling Tiling(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2 = null, NtkOptions? options = null)
    {
        options ??= new NtkOptions();
        Validate(model, x1, x2, options);
        RequireTiledOutput(options);
        var plan = ModelPlan.Build(model, x1, options.Rules);
        var kernel = NtkWorkerSet.CreateKernel(plan, ResolvePlan(plan, options.Implementation, options.MemoryBudgetBytes), options, default);
        long n1 = x1.shape[0], n2 = (x2 ?? x1).shape[0];
        return new KernelTiling(n1, n2, BlockedNtk.TileSize(kernel, Math.Max(n1, n2), options, workers: 1, symmetric: x2 is null), x2 is null);
    }

    /// <summary>
    /// Computes the tiles of Θ(X1, X2) that belong to <paramref name="shard"/> (default: all) and that
    /// <paramref name="sink"/> does not hold yet, and writes them to it — into memory, or straight into a file shared
    /// with the other shards (<see cref="NpyKernelFile"/>), so that memory is set by one tile, not by N. The sink's
    /// layout must be Θ's: shape <c>[N1, N2]</c> (<see cref="NtkOutput.Trace"/>) or <c>[N1, N2, O, O]</c>
    /// (<see cref="NtkOutput.Full"/>), the inputs' dtype, symmetric exactly when <paramref name="x2"/> is null; its
    /// tiling is normally <see cref="Tiling"/>. The same tiles give the same numbers, however they are spread over
    /// shards.
    /// </summary>
    public static TileRunSummary ComputeInto(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2, IKernelSink sink,
        NtkOptions? options = null, Shard? shard = null)
    {
        options ??= new NtkOptions();
        ArgumentNullException.ThrowIfNull(sink);
        Validate(model, x1, x2, options);
        RequireTiledOutput(options);
        var plan = ModelPlan.Build(model, x1, options.Rules);
        var layout = sink.Layout;
        long n1 = x1.shape[0], n2 = (x2 ?? x1).shape[0];
        long[] expected = options.Output == NtkOutput.Full ? [n1, n2, plan.Outputs, plan.Outputs] : [n1, n2];
        if (!layout.Shape.SequenceEqual(expected) || layout.DType != x1.dtype || layout.Tiling.Symmetric != (x2 is null))
            throw new ArgumentException($"the sink holds a {(layout.Tiling.Symmetric ? "symmetric " : "")}{layout.DType} kernel " +
                                        $"[{string.Join(", ", layout.Shape)}], but these inputs give a {(x2 is null ? "symmetric " : "")}{x1.dtype} " +
                                        $"[{string.Join(", ", expected)}]: build its layout from EmpiricalNtk.Tiling with the same inputs and options", nameof(sink));
        var implementation = ResolvePlan(plan, options.Implementation, options.MemoryBudgetBytes);
        using var workers = NtkWorkerSet.Create(plan, implementation, x1, x2, options);
        return BlockedNtk.Fill(workers, sink, shard ?? Shard.Single, options);
    }

    private static void RequireTiledOutput(NtkOptions options)
    {
        if (options.IsDiagonal)
            throw new ArgumentException($"NtkOptions.Output = {options.Output}: a diagonal is [N] or [N, O, O], small enough to compute with " +
                                        "EmpiricalNtk.Compute; tiled sinks hold Full or Trace kernels");
    }

    /// <summary>
    /// The implementation <see cref="NtkImplementation.Auto"/> stands for on this model (see the class remarks), or
    /// <paramref name="requested"/> itself when it is not Auto. Runs a one-example probe forward.
    /// </summary>
    public static NtkImplementation Resolve(nn.Module<Tensor, Tensor> model, Tensor x, NtkImplementation requested = NtkImplementation.Auto,
        long memoryBudgetBytes = 1L << 30)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x);
        if (requested != NtkImplementation.Auto) return requested;
        return ResolvePlan(ModelPlan.Build(model, x), requested, memoryBudgetBytes);
    }

    /// <summary>
    /// Θ(X1, X2)·v by one VJP and one JVP (double backward), without forming Θ or J: <paramref name="v"/> is
    /// <c>[N2, O]</c> (Θ viewed as <c>[N1·O, N2·O]</c>, rows example-major), the result <c>[N1, O]</c>.
    /// <paramref name="x2"/> null means X1.
    /// </summary>
    public static Tensor VectorProduct(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(v);
        Validate(model, x1, x2, new NtkOptions());
        var plan = ModelPlan.Build(model, x1);
        long n2 = (x2 ?? x1).shape[0];
        if (v.numel() != n2 * plan.Outputs)
            throw new ArgumentException($"v has shape [{string.Join(", ", v.shape)}]; expected [{n2}, {plan.Outputs}] (examples of X2 × outputs)", nameof(v));
        return new VectorProductNtk(plan, default).Multiply(x1, x2 ?? x1, v.to(x1.dtype, x1.device));
    }

    private static NtkImplementation ResolvePlan(ModelPlan plan, NtkImplementation requested, long memoryBudgetBytes)
    {
        if (requested == NtkImplementation.Auto)
        {
            bool fits = 2 * new LayerwiseNtk(plan, structured: true, memoryBudgetBytes).FeatureBytesPerExample <= memoryBudgetBytes;
            return plan.HooksSeeAllParameters && fits ? NtkImplementation.Structured : NtkImplementation.VectorProducts;
        }
        if (requested is NtkImplementation.Structured or NtkImplementation.JacobianContraction && !plan.HooksSeeAllParameters)
            throw new ArgumentException($"{requested} needs forward hooks on every parameterized module, but {plan.UnsupportedReason}; " +
                                        "use NtkImplementation.VectorProducts (or Auto) for this model", nameof(requested));
        return requested;
    }

    private static void Validate(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2, NtkOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x1);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (x2 is not null && options.IsDiagonal)
            throw new ArgumentException("a diagonal NTK is Θ(x_i, x_i): give one input set only", nameof(x2));
        var p = model.parameters().FirstOrDefault();
        foreach (var (x, name) in new[] { (x1, nameof(x1)), (x2, nameof(x2)) })
        {
            if (x is null) continue;
            if (x.dim() < 1 || x.shape[0] < 1)
                throw new ArgumentException($"{name} has shape [{string.Join(", ", x.shape)}]; expected [N, …] with N ≥ 1 examples", name);
            if (p is not null && (x.dtype != p.dtype || x.device.type != p.device.type
                                  || (x.device.index >= 0 && p.device.index >= 0 && x.device.index != p.device.index)))
                throw new ArgumentException($"{name} is {x.dtype} on {x.device} but the model's parameters are {p.dtype} on {p.device}; " +
                                            $"convert it with {name}.to(dtype, device)", name);
        }
        if (x2 is not null && !x1.shape.Skip(1).SequenceEqual(x2.shape.Skip(1)))
            throw new ArgumentException($"x1 [{string.Join(", ", x1.shape)}] and x2 [{string.Join(", ", x2.shape)}] differ in their per-example shape", nameof(x2));
    }
}
