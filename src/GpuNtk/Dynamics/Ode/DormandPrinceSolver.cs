using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Ode;

/// <summary>dy/dt = f(t, y) for a state made of several tensors (e.g. a network's parameters, or f and Θ).</summary>
public delegate Tensor[] OdeFunction(double t, IReadOnlyList<Tensor> y);

/// <summary>
/// Dormand–Prince 5(4) with FSAL and PI-free step control (Hairer, Nørsett &amp; Wanner, Solving ODEs I, §II.4), on
/// tensors of any dtype and device. Adaptive by default; <see cref="OdeOptions.FixedStep"/> gives fixed steps.
/// The state stays on the device: the only host read per step is the scalar error norm that accepts or rejects it.
/// Call <see cref="AdvanceTo"/> with increasing times; <see cref="State"/> is then y at exactly that time.
/// </summary>
public sealed class DormandPrinceSolver : IDisposable
{
    private static readonly double[] C = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1];
    private static readonly double[][] A =
    [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ];
    // 5th-order weights minus 4th-order weights: the local error estimate.
    private static readonly double[] E =
    [
        35.0 / 384 - 5179.0 / 57600, 0, 500.0 / 1113 - 7571.0 / 16695, 125.0 / 192 - 393.0 / 640,
        -2187.0 / 6784 + 92097.0 / 339200, 11.0 / 84 - 187.0 / 2100, -1.0 / 40,
    ];

    private readonly OdeFunction _f;
    private readonly OdeOptions _options;
    private Tensor[] _y;
    private Tensor[]? _k1;
    private double _h;

    public DormandPrinceSolver(OdeFunction f, IReadOnlyList<Tensor> y0, double t0, OdeOptions? options = null)
    {
        _f = f ?? throw new ArgumentNullException(nameof(f));
        _options = options ?? new OdeOptions();
        _options.Validate();
        if (y0.Count == 0) throw new ArgumentException("the ODE state needs at least one tensor", nameof(y0));
        _y = y0.Select(t => t.detach().clone().DetachFromDisposeScope()).ToArray();
        Time = t0;
        _h = _options.FixedStep ?? _options.InitialStep ?? 0;
    }

    public double Time { get; private set; }
    /// <summary>The current state (owned by the solver; clone to keep it past the next step).</summary>
    public IReadOnlyList<Tensor> State => _y;
    public long AcceptedSteps { get; private set; }
    public long RejectedSteps { get; private set; }
    public long FunctionEvaluations { get; private set; }
    /// <summary>The step the solver tries next (0 before the first); pass it as <see cref="OdeOptions.InitialStep"/> to continue identically.</summary>
    public double StepSize => _h;

    /// <summary>Integrates up to <paramref name="tEnd"/> (≥ <see cref="Time"/>), landing on it exactly.</summary>
    public void AdvanceTo(double tEnd, CancellationToken cancellation = default)
    {
        if (tEnd < Time) throw new ArgumentException($"cannot integrate backwards from t={Time} to t={tEnd}");
        int steps = 0;
        while (Time < tEnd)
        {
            cancellation.ThrowIfCancellationRequested();
            if (++steps > _options.MaxSteps)
                throw new InvalidOperationException($"ODE solver exceeded {_options.MaxSteps} steps before t={tEnd} (at t={Time}); " +
                                                    "the problem may be stiff or diverging: lower the learning rate or loosen the tolerances");
            _k1 ??= Eval(Time, _y).Select(t => t.DetachFromDisposeScope()).ToArray();
            if (_h <= 0) _h = InitialStep();
            double remaining = tEnd - Time;
            double h = Math.Min(Math.Min(_h, _options.MaxStep), remaining);
            bool last = h >= remaining;
            if (TryStep(h, out double errorNorm))
            {
                Time = last ? tEnd : Time + h;
                AcceptedSteps++;
            }
            else RejectedSteps++;
            if (_options.FixedStep is null)
            {
                double factor = errorNorm == 0 ? 5 : Math.Clamp(0.9 * Math.Pow(errorNorm, -0.2), 0.2, 5);
                if (double.IsNaN(errorNorm)) throw new ArithmeticException($"ODE state became NaN/Inf at t={Time}: the dynamics diverged");
                // Do not let the forced short last step shrink the step used afterwards.
                _h = last && errorNorm <= 1 ? Math.Max(_h, h * factor) : h * factor;
                if (_h < 1e-14 * Math.Max(1, Math.Abs(Time)))
                    throw new ArithmeticException($"ODE step size underflow at t={Time}: the dynamics are too stiff or diverging");
            }
        }
    }

    private bool TryStep(double h, out double errorNorm)
    {
        var k = new Tensor[7][];
        k[0] = _k1!;
        using (var scope = NewDisposeScope())
        {
            for (int s = 1; s < 7; s++)
            {
                var ys = Combine(_y, k, A[s], h, s);
                k[s] = Eval(Time + C[s] * h, ys);
            }
            // Stage 7's input is the 5th-order solution (FSAL).
            var yNew = Combine(_y, k, A[6], h, 6);
            if (_options.FixedStep is not null)
            {
                errorNorm = 0;
                if (yNew.Any(t => !t.isfinite().all().item<bool>()))
                    throw new ArithmeticException($"ODE state became NaN/Inf at t={Time + h}: the dynamics diverged");
            }
            else errorNorm = ErrorNorm(k, h, yNew);
            if (errorNorm > 1 || double.IsNaN(errorNorm)) return false;
            var oldY = _y;
            var oldK1 = _k1!;
            _y = yNew.Select(t => t.MoveToOuterDisposeScope().DetachFromDisposeScope()).ToArray();
            _k1 = k[6].Select(t => t.MoveToOuterDisposeScope().DetachFromDisposeScope()).ToArray();
            foreach (var t in oldY) t.Dispose();
            foreach (var t in oldK1) t.Dispose();
            return true;
        }
    }

    private static Tensor[] Combine(Tensor[] y, Tensor[][] k, double[] a, double h, int stages)
    {
        var result = new Tensor[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            var acc = y[i].clone();
            for (int j = 0; j < stages; j++)
                if (a[j] != 0) acc.add_(k[j][i], alpha: h * a[j]);
            result[i] = acc;
        }
        return result;
    }

    private double ErrorNorm(Tensor[][] k, double h, Tensor[] yNew)
    {
        Tensor? sum = null;
        long count = 0;
        for (int i = 0; i < _y.Length; i++)
        {
            var err = zeros_like(_y[i]);
            for (int j = 0; j < 7; j++)
                if (E[j] != 0) err.add_(k[j][i], alpha: h * E[j]);
            var scale = maximum(_y[i].abs(), yNew[i].abs()).mul_(_options.RelativeTolerance).add_(_options.AbsoluteTolerance);
            var term = err.div_(scale).square().sum().to(ScalarType.Float64);
            sum = sum is null ? term : sum.add_(term);
            count += _y[i].numel();
        }
        return Math.Sqrt(sum!.item<double>() / Math.Max(1, count));
    }

    private Tensor[] Eval(double t, IReadOnlyList<Tensor> y)
    {
        FunctionEvaluations++;
        var result = _f(t, y);
        if (result.Length != y.Count) throw new InvalidOperationException($"ODE function returned {result.Length} tensors for a state of {y.Count}");
        return result;
    }

    private double InitialStep()
    {
        using var scope = NewDisposeScope();
        double d0 = 0, d1 = 0;
        for (int i = 0; i < _y.Length; i++)
        {
            var sc = _y[i].abs().mul(_options.RelativeTolerance).add_(_options.AbsoluteTolerance);
            d0 += _y[i].div(sc).square().sum().to(ScalarType.Float64).item<double>();
            d1 += _k1![i].div(sc).square().sum().to(ScalarType.Float64).item<double>();
        }
        double n = _y.Sum(t => t.numel());
        d0 = Math.Sqrt(d0 / n);
        d1 = Math.Sqrt(d1 / n);
        double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
        return Math.Min(h0, _options.MaxStep);
    }

    public void Dispose()
    {
        foreach (var t in _y) t.Dispose();
        if (_k1 is not null) foreach (var t in _k1) t.Dispose();
    }
}
