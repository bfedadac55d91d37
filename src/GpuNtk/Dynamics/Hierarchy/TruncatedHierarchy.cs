using GpuNtk.Dynamics.Ode;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The neural tangent hierarchy truncated at level p, integrated with <see cref="DormandPrinceSolver"/>, for a
/// network with O outputs trained by gradient flow on L = 1/(2·n·O)·Σ_{β,b} (f_b(x_β) − y_{β,b})² with learning rate η
/// (dθ/dt = −η∇L; src/GpuNtk/Kernels/README.md; for O = 1, η = 1 is the paper's time). Over (example, output) pairs
/// α = (i, a), β = (j, b) (<see cref="HierarchyKernelSet.OverPairs"/>):
/// <code>
/// ∂t f(α)        = −(η/(n·O)) Σ_β K⁽²⁾(α, β) (f_β − y_β)
/// ∂t K⁽ʳ⁾(α, …)  = −(η/(n·O)) Σ_β K⁽ʳ⁺¹⁾(α, …, β) (f_β − y_β),   2 ≤ r &lt; p
/// </code>
/// With O &gt; 1 the kernels must be full (<see cref="GpuNtk.Kernels.Empirical.NtkOutput.Full"/>): outputs couple.
/// Levels 2…p−1 evolve; K⁽ᵖ⁾ stays at its t = 0 value. p = 2 is the linearized (NTK) dynamics; p = 3 and 4 let the
/// NTK move. The probe set's first n rows must be the training points (A = [T; test]): f on them drives everything.
/// </summary>
public sealed class TruncatedHierarchy : IDisposable
{
    private readonly DormandPrinceSolver _solver;
    private readonly Tensor _targets;
    private readonly Tensor _frozen;
    private readonly long _n;
    private readonly long _outputs;
    private readonly long[] _outputShape;
    private readonly double _rate;

    /// <param name="order">The truncation level p: 2, 3 or 4.</param>
    /// <param name="outputs">f on the probes at t = 0, <c>[|A|]</c> or <c>[|A|, O]</c>, training points first.</param>
    /// <param name="kernels">K⁽²⁾ … K⁽ᵖ⁾ at t = 0 on A × T (copied; the set stays the caller's); full when O &gt; 1.</param>
    /// <param name="targets">y on the training points, <c>[n]</c> or <c>[n, O]</c>.</param>
    /// <param name="learningRate">η of dθ/dt = −η∇L.</param>
    /// <param name="ode">Solver tolerances; the default is tight (1e-9 relative) because comparisons with the real flow are the point.</param>
    public TruncatedHierarchy(int order, Tensor outputs, HierarchyKernelSet kernels, Tensor targets, double learningRate = 1.0, OdeOptions? ode = null)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(targets);
        if (order is < 2 or > 4) throw new ArgumentOutOfRangeException(nameof(order), order, "truncation levels p = 2, 3 and 4 are implemented");
        if (kernels.MaxOrder < order) throw new ArgumentException($"truncation at p = {order} needs K{order}; the kernel set goes up to K{kernels.MaxOrder}", nameof(kernels));
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "η must be positive and finite");
        long na = kernels.K2.shape[0];
        long n = kernels.K2.shape[1];
        _outputs = kernels.Outputs;
        long perExample = outputs.dim() == 1 ? 1 : outputs.shape[1];
        if (perExample != _outputs)
            throw new ArgumentException(_outputs == 1 && perExample > 1
                ? $"outputs have {perExample} per example: the dynamics of several outputs need the full kernels (HierarchyKernelOptions.Output = NtkOutput.Full)"
                : $"outputs have {perExample} per example but the kernels {_outputs}", nameof(outputs));
        if (outputs.dim() > 2 || outputs.shape[0] != na)
            throw new ArgumentException($"outputs must be f on the {na} probes, shape [{na}] or [{na}, O]; got [{string.Join(", ", outputs.shape)}]", nameof(outputs));
        if (targets.numel() != n * _outputs || targets.shape[0] != n)
            throw new ArgumentException($"targets must be y on the {n} training points, shape [{n}] or [{n}, {_outputs}]; got [{string.Join(", ", targets.shape)}]", nameof(targets));
        Order = order;
        _rate = learningRate;
        _n = n * _outputs;
        _outputShape = outputs.shape;
        _targets = targets.detach().reshape(-1).clone().DetachFromDisposeScope();
        _frozen = kernels.OverPairs(order).detach().clone().DetachFromDisposeScope();
        var state = new List<Tensor> { outputs.reshape(-1) };
        for (int r = 2; r < order; r++) state.Add(kernels.OverPairs(r));
        _solver = new DormandPrinceSolver(Derivative, state, 0, ode ?? new OdeOptions(1e-9, 1e-12));
    }

    public int Order { get; }
    public double Time => _solver.Time;
    public long Steps => _solver.AcceptedSteps;

    /// <summary>f(t) on the probes, shaped as the initial outputs, <c>[|A|]</c> or <c>[|A|, O]</c> (a copy).</summary>
    public Tensor Outputs => _solver.State[0].reshape(_outputShape).clone();

    /// <summary>K⁽²⁾(t) = Θ_t on A × T: <c>[|A|, n]</c>, or <c>[|A|, n, O, O]</c> when the outputs are <c>[|A|, O]</c> (a copy; constant for p = 2).</summary>
    public Tensor Ntk
    {
        get
        {
            var k = Order == 2 ? _frozen : _solver.State[1];
            return (_outputShape.Length == 2 ? HierarchyKernelSet.FromPairs(k, _outputs) : k).clone();
        }
    }

    public void AdvanceTo(double time, CancellationToken cancellation = default) => _solver.AdvanceTo(time, cancellation);

    private Tensor[] Derivative(double t, IReadOnlyList<Tensor> y)
    {
        // Residual on the training pairs (the first n·O probe pairs), scaled by −η/(n·O).
        var r = y[0].narrow(0, 0, _n).sub(_targets).mul(-_rate / _n);
        var result = new Tensor[y.Count];
        for (int level = 0; level < y.Count; level++)
        {
            // Level r = level + 2 moves with K⁽ʳ⁺¹⁾: the next state tensor, or the frozen top kernel.
            var next = level + 1 < y.Count ? y[level + 1] : _frozen;
            // As one [rows, n] × [n] product: matmul on a 4-D tensor would take a slow batched path.
            result[level] = next.reshape(-1, _n).matmul(r).view(y[level].shape);
        }
        return result;
    }

    public void Dispose()
    {
        _solver.Dispose();
        _targets.Dispose();
        _frozen.Dispose();
    }
}
