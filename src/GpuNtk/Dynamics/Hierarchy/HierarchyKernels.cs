using GpuNtk.Kernels.Empirical;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The kernels of the Neural Tangent Hierarchy (Huang &amp; Yau 2019) of any model:
/// K⁽²⁾ = Θ, K⁽ʳ⁺¹⁾(x₁…x_r, x_{r+1}) = ⟨∇θ K⁽ʳ⁾(x₁…x_r), ∇θ f(x_{r+1})⟩, on a probe set A (first argument) and a
/// training set T (the others): K2 <c>[|A|, n]</c>, K3 <c>[|A|, n, n]</c>, K4 <c>[|A|, n, n, n]</c> for one output or
/// traced; with <see cref="NtkOutput.Full"/>, r output axes after the r example axes (<see cref="HierarchyKernelSet"/>).
/// Computed by autograd — batched Hessian-vector products and third-derivative contractions by double and triple
/// backward (<see cref="IPerExampleDerivatives"/>) — in the model's dtype and on its device.
/// Formulas, symmetries and costs: src/GpuNtk/Dynamics/Hierarchy/README.md.
/// </summary>
public static class HierarchyKernels
{
    /// <summary>K⁽²⁾ = Θ(A, T), <c>[|A|, n]</c> (equals the traced empirical NTK for a scalar output).</summary>
    public static Tensor K2(nn.Module<Tensor, Tensor> model, Tensor probe, Tensor train, HierarchyKernelOptions? options = null)
    {
        using var set = Compute(model, probe, train, 2, options);
        return set.K2.clone();
    }

    /// <summary>K⁽³⁾(a, b, c), <c>[|A|, n, n]</c>, symmetric in its first two arguments where both are training points.</summary>
    public static Tensor K3(nn.Module<Tensor, Tensor> model, Tensor probe, Tensor train, HierarchyKernelOptions? options = null)
    {
        using var set = Compute(model, probe, train, 3, options);
        return set.K3!.clone();
    }

    /// <summary>K⁽⁴⁾(a, b, c, d), <c>[|A|, n, n, n]</c>. Costs O(|A|·n³·P) time and keeps n²·P numbers.</summary>
    public static Tensor K4(nn.Module<Tensor, Tensor> model, Tensor probe, Tensor train, HierarchyKernelOptions? options = null)
    {
        using var set = Compute(model, probe, train, 4, options);
        return set.K4!.clone();
    }

    /// <summary>K⁽²⁾ … K⁽ᵐᵃˣᴼʳᵈᵉʳ⁾ at once, sharing the derivatives between orders.</summary>
    public static HierarchyKernelSet Compute(nn.Module<Tensor, Tensor> model, Tensor probe, Tensor train, int maxOrder,
                                             HierarchyKernelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(train);
        options ??= new HierarchyKernelOptions();
        options.Validate();
        if (maxOrder is < 2 or > 4) throw new ArgumentOutOfRangeException(nameof(maxOrder), maxOrder, "orders 2, 3 and 4 are implemented");
        if (probe.dim() < 2 || train.dim() < 2 || probe.shape[0] < 1 || train.shape[0] < 1)
            throw new ArgumentException($"probe [{string.Join(", ", probe.shape)}] and training inputs [{string.Join(", ", train.shape)}] must be non-empty batches [N, …]");
        if (probe.numel() / probe.shape[0] != train.numel() / train.shape[0])
            throw new ArgumentException($"probe inputs [{string.Join(", ", probe.shape)}] and training inputs [{string.Join(", ", train.shape)}] have different feature counts");
        var p0 = ParameterVector.Of(model).Entries[0].Parameter;
        if (probe.dtype != p0.dtype || train.dtype != p0.dtype || !SameDevice(probe, p0) || !SameDevice(train, p0))
            throw new ArgumentException($"inputs must have the model's dtype and device ({p0.dtype} on {p0.device}); " +
                                        $"got probe {probe.dtype} on {probe.device}, train {train.dtype} on {train.device}");
        var directions = Directions(model, options);
        long outputs = OutputCount(model, train);
        if (options.Output == NtkOutput.Full)
        {
            // The full kernels are the scalar hierarchy over (example, output) pairs, unfolded into output axes.
            using var pairs = new HierarchyKernelBuilder(directions, OutputSelection.Pairs(probe, outputs),
                                                         OutputSelection.Pairs(train, outputs), options).Build(maxOrder);
            using var scope = NewDisposeScope();
            Tensor? Full(Tensor? k) => k is null ? null : HierarchyKernelSet.FromPairs(k, outputs).contiguous().MoveToOuterDisposeScope();
            return new HierarchyKernelSet(Full(pairs.K2)!, Full(pairs.K3), Full(pairs.K4), NtkOutput.Full);
        }
        if (outputs == 1)
            return new HierarchyKernelBuilder(directions, OutputSelection.Single(probe, 0), OutputSelection.Single(train, 0), options).Build(maxOrder);
        // Traced: the mean over outputs a of the hierarchy of the scalar network f_a (each its own directions g_a).
        HierarchyKernelSet? sum = null;
        for (long a = 0; a < outputs; a++)
        {
            var part = options with { Progress = options.Progress is { } p ? new Fraction(p, a, outputs) : null };
            var set = new HierarchyKernelBuilder(directions, OutputSelection.Single(probe, a), OutputSelection.Single(train, a), part).Build(maxOrder);
            if (sum is null) sum = set;
            else
            {
                for (int r = 2; r <= maxOrder; r++) sum.Order(r).add_(set.Order(r));
                set.Dispose();
            }
        }
        for (int r = 2; r <= maxOrder; r++) sum!.Order(r).div_(outputs);
        return sum!;
    }

    /// <summary>O: the number of outputs per example (one forward of one training input).</summary>
    private static long OutputCount(nn.Module<Tensor, Tensor> model, Tensor train)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var f = model.forward(train.narrow(0, 0, 1));
        return f.numel();
    }

    /// <summary>Reports part <c>index</c> of <c>count</c> equal parts of the work as a fraction of the whole.</summary>
    private sealed class Fraction(IProgress<double> whole, long index, long count) : IProgress<double>
    {
        public void Report(double value) => whole.Report((index + value) / count);
    }

    /// <summary>What <see cref="HierarchyKernelMethod.Auto"/> picks for <paramref name="model"/>: Structured or Looped.</summary>
    public static HierarchyKernelMethod ResolveMethod(nn.Module<Tensor, Tensor> model) =>
        DenseNetworkPlan.TryCreate(model, out _) is null ? HierarchyKernelMethod.Looped : HierarchyKernelMethod.Structured;

    /// <summary>The backend for <paramref name="options"/>.Method: a factory of directional derivatives for given direction points.</summary>
    private static Func<Tensor, Tensor, IDirectionalDerivatives> Directions(nn.Module<Tensor, Tensor> model, HierarchyKernelOptions options)
    {
        var plan = DenseNetworkPlan.TryCreate(model, out var reason);
        switch (options.Method)
        {
            case HierarchyKernelMethod.Auto or HierarchyKernelMethod.Structured when plan is not null:
                return (points, outputs) => new StructuredDenseDirectionalDerivatives(plan, points, outputs);
            case HierarchyKernelMethod.Structured:
                throw new ArgumentException($"the structured method needs a fully connected GpuNtk network: {reason}; use Auto, ParameterRows or Looped");
            case HierarchyKernelMethod.ParameterRows when plan is not null:
                return (points, outputs) => new ProjectedDirectionalDerivatives(new BatchedDenseDerivatives(plan), points, outputs);
            case HierarchyKernelMethod.ParameterRows:
                throw new ArgumentException($"batched parameter rows need a fully connected GpuNtk network: {reason}; use Looped");
            default:
                return (points, outputs) => new ProjectedDirectionalDerivatives(new LoopedModuleDerivatives(model), points, outputs);
        }
    }

    internal static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
}
