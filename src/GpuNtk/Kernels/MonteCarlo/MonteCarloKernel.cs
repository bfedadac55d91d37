using GpuNtk.Kernels.Analytic;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.MonteCarlo;

/// <summary>Options of a Monte Carlo (finite-width, many-seed) kernel estimate.</summary>
/// <param name="Seeds">Number of independent initialisations averaged.</param>
/// <param name="FirstSeed">Seeds used are FirstSeed, FirstSeed + 1, ….</param>
/// <param name="Kinds">NNGP (output covariance, forward passes only), NTK (empirical, traced) or both.</param>
/// <param name="BatchSize">Examples per forward pass of the NNGP estimate.</param>
/// <param name="Ntk">Options of each empirical NTK (its <see cref="NtkOptions.Output"/> is forced to Trace).</param>
public sealed record MonteCarloOptions(
    int Seeds = 100,
    long FirstSeed = 0,
    KernelKinds Kinds = KernelKinds.Both,
    int BatchSize = 256,
    NtkOptions? Ntk = null,
    IProgress<double>? Progress = null,
    CancellationToken Cancellation = default)
{
    public void Validate()
    {
        if (Seeds < 2) throw new ArgumentException($"Seeds = {Seeds}: use at least 2 (the standard error needs two)", nameof(Seeds));
        if ((Kinds & KernelKinds.Both) == 0 || (Kinds & ~KernelKinds.Both) != 0)
            throw new ArgumentException($"Kinds = {Kinds}: use Nngp, Ntk or Both", nameof(Kinds));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize = {BatchSize}: use at least 1", nameof(BatchSize));
    }
}

/// <summary>
/// Means over seeds of the empirical kernels, <c>[N1, N2]</c>, with the standard error of each entry
/// (sample standard deviation/√seeds). A kind that was not asked for is null.
/// </summary>
public sealed record MonteCarloEstimate(Tensor? Nngp, Tensor? Ntk, Tensor? NngpStdError, Tensor? NtkStdError, int Seeds) : IDisposable
{
    public void Dispose()
    {
        Nngp?.Dispose();
        Ntk?.Dispose();
        NngpStdError?.Dispose();
        NtkStdError?.Dispose();
    }
}

/// <summary>
/// Monte Carlo kernels of finite networks: the mean over seeds of the empirical NNGP, (1/O)·f(X1)·f(X2)ᵀ (the output
/// covariance, mean over outputs), and of the traced empirical NTK (<see cref="EmpiricalNtk"/>). As the width grows
/// they converge to <see cref="AnalyticKernel"/>'s kernels (bias O(1/width), seed-to-seed spread O(1/√width) for the
/// NTK and O(1) for the NNGP, which therefore needs seeds × outputs samples).
/// </summary>
public static class MonteCarloKernel
{
    /// <summary>
    /// Builds <paramref name="spec"/> once on <paramref name="x1"/>'s device and dtype, re-initialises it for each
    /// seed and accumulates the kernels between <paramref name="x1"/> and <paramref name="x2"/> (null: X1).
    /// </summary>
    public static MonteCarloEstimate Estimate(ArchitectureSpec spec, Tensor x1, Tensor? x2 = null, MonteCarloOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x1);
        options ??= new MonteCarloOptions();
        options.Validate();
        using var net = NetworkFactory.Create(spec, options.FirstSeed, x1.dtype, x1.device);
        return Estimate(net, x1, x2, options);
    }

    /// <summary>As above on an existing network, re-initialised in place (<see cref="NetworkFactory.Initialize"/>) for every seed.</summary>
    public static MonteCarloEstimate Estimate(Network network, Tensor x1, Tensor? x2 = null, MonteCarloOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new MonteCarloOptions();
        options.Validate();
        bool wantNngp = options.Kinds.HasFlag(KernelKinds.Nngp), wantNtk = options.Kinds.HasFlag(KernelKinds.Ntk);
        var ntkOptions = (options.Ntk ?? new NtkOptions()) with { Output = NtkOutput.Trace, Cancellation = options.Cancellation };
        using var nngp = wantNngp ? new RunningMoments() : null;
        using var ntk = wantNtk ? new RunningMoments() : null;
        for (int s = 0; s < options.Seeds; s++)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            NetworkFactory.Initialize(network, options.FirstSeed + s);
            using var scope = NewDisposeScope();
            if (nngp is not null)
            {
                var f1 = Outputs(network, x1, options.BatchSize);
                var f2 = x2 is null ? f1 : Outputs(network, x2, options.BatchSize);
                nngp.Add(f1.matmul(f2.t()).div_(f1.shape[1]));
            }
            if (ntk is not null) ntk.Add(EmpiricalNtk.Compute(network, x1, x2, ntkOptions));
            options.Progress?.Report((s + 1) / (double)options.Seeds);
        }
        return new MonteCarloEstimate(nngp?.Mean(), ntk?.Mean(), nngp?.StandardError(), ntk?.StandardError(), options.Seeds);
    }

    private static Tensor Outputs(Network network, Tensor x, int batchSize)
    {
        using var noGrad = no_grad();
        long n = x.shape[0];
        var parts = new List<Tensor>();
        for (long i = 0; i < n; i += batchSize)
            parts.Add(network.forward(x.narrow(0, i, Math.Min(batchSize, n - i))).reshape(Math.Min(batchSize, n - i), -1));
        return parts.Count == 1 ? parts[0] : cat(parts, 0);
    }

    /// <summary>Welford's running mean and sum of squared deviations, entrywise.</summary>
    private sealed class RunningMoments : IDisposable
    {
        private Tensor? _mean, _m2;
        private long _count;

        public void Add(Tensor x)
        {
            _count++;
            if (_mean is null)
            {
                _mean = x.detach().clone().DetachFromDisposeScope();
                _m2 = zeros_like(x).DetachFromDisposeScope();
                return;
            }
            using var delta = x - _mean;
            _mean.add_(delta, alpha: 1.0 / _count);
            using var delta2 = x - _mean;
            _m2!.addcmul_(delta, delta2, 1);
        }

        public Tensor Mean() => _mean!.clone();

        public Tensor StandardError() => (_m2! / ((_count - 1.0) * _count)).sqrt_();

        public void Dispose()
        {
            _mean?.Dispose();
            _m2?.Dispose();
        }
    }
}
