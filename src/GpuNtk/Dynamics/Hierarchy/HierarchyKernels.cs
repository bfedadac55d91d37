using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The kernels of the Neural Tangent Hierarchy (Huang &amp; Yau 2019) of a scalar-output model:
/// K⁽²⁾ = Θ, K⁽ʳ⁺¹⁾(x₁…x_r, x_{r+1}) = ⟨∇θ K⁽ʳ⁾(x₁…x_r), ∇θ f(x_{r+1})⟩, on a probe set A (first argument) and a
/// training set T (the others): K2 <c>[|A|, n]</c>, K3 <c>[|A|, n, n]</c>, K4 <c>[|A|, n, n, n]</c>.
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
        return new HierarchyKernelBuilder(directions, probe, train, options).Build(maxOrder);
    }

    /// <summary>The backend for <paramref name="options"/>.Method: a factory of directional derivatives for given direction points.</summary>
    private static Func<Tensor, IDirectionalDerivatives> Directions(nn.Module<Tensor, Tensor> model, HierarchyKernelOptions options)
    {
        var plan = DenseNetworkPlan.TryCreate(model, out var reason);
        switch (options.Method)
        {
            case HierarchyKernelMethod.Auto or HierarchyKernelMethod.Structured when plan is not null:
                return points => new StructuredDenseDirectionalDerivatives(plan, points);
            case HierarchyKernelMethod.Structured:
                throw new ArgumentException($"the structured method needs a fully connected GpuNtk network: {reason}; use Auto, ParameterRows or Looped");
            case HierarchyKernelMethod.ParameterRows when plan is not null:
                return points => new ProjectedDirectionalDerivatives(new BatchedDenseDerivatives(plan), points);
            case HierarchyKernelMethod.ParameterRows:
                throw new ArgumentException($"batched parameter rows need a fully connected GpuNtk network: {reason}; use Looped");
            default:
                return points => new ProjectedDirectionalDerivatives(new LoopedModuleDerivatives(model), points);
        }
    }

    internal static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;
}
