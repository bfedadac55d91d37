using System.Diagnostics;
using GpuNtk.Data;
using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Dynamics.Ode;
using GpuNtk.Experiments.Linearization;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace GpuNtk.Experiments.Hierarchy;

/// <summary>
/// Runs <see cref="NthExperimentConfig"/>: for each width and seed, a fresh network and dataset (inputs uniform on the
/// unit sphere S^{in−1} with target y_a = in·x_a·x_{a+1}, degree-2 harmonics of variance ≈ 1; or two image classes);
/// K⁽²⁾…K⁽ᵖ⁾ at t = 0 on [train; test] × train (full over outputs when O &gt; 1); the real network trained by gradient
/// flow (its parameter ODE integrated with the Dormand–Prince solver, not discrete GD); and the truncated hierarchies —
/// all compared at the observation times. The dataset of a seed is the same at every width.
/// </summary>
public sealed class NthExperiment(NthExperimentConfig config, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public NthExperimentResult Run(CancellationToken cancellation = default)
    {
        config.Validate();
        var observations = new List<NthObservation>();
        var timings = new List<NthTiming>();
        var data = Enumerable.Range(0, config.Seeds).Select(s => Data(config.Seed + s)).ToArray();
        try
        {
            foreach (long width in config.Widths)
                for (int s = 0; s < config.Seeds; s++)
                {
                    cancellation.ThrowIfCancellationRequested();
                    var (obs, timing) = RunOne(width, s, data[s], cancellation);
                    observations.AddRange(obs);
                    timings.Add(timing);
                }
        }
        finally
        {
            foreach (var d in data) d.Dispose();
        }
        var summary = Summarize(observations);
        return new NthExperimentResult(config, observations, summary, FitExponents(summary), timings);
    }

    private (List<NthObservation>, NthTiming) RunOne(long width, int seedIndex, NthData data, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        var spec = config.SpecFor(width);
        long seed = config.Seed + seedIndex;
        var device = config.Device ?? CPU;
        using var net = NetworkFactory.Create(spec, seed, config.DType, device);
        var (train, test, y) = (data.Train, data.Test, data.Targets);
        var probe = cat([train, test]);
        int maxOrder = config.Orders.Max();
        // Several outputs couple in the dynamics: full kernels over (example, output) pairs.
        var output = config.Outputs > 1 ? NtkOutput.Full : NtkOutput.Trace;

        var watch = Stopwatch.StartNew();
        var f0 = Outputs(net, probe);
        using var kernels = HierarchyKernels.Compute(net, probe, train, maxOrder,
            new HierarchyKernelOptions(MemoryBudgetBytes: config.MemoryBudgetBytes, Cancellation: cancellation, Logger: _logger, Output: output));
        double kernelSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();

        var ode = new OdeOptions(config.OdeTolerance, config.OdeTolerance * 1e-3);
        var hierarchies = config.Orders.Select(p => new TruncatedHierarchy(p, f0, kernels, y, config.LearningRate, ode)).ToArray();
        using var flow = new NetworkGradientFlow(net, train, y, config.LearningRate, ode);
        var theta0 = kernels.K2;
        double theta0Norm = theta0.norm().item<double>();
        double rms = Math.Sqrt(probe.shape[0] * config.Outputs);
        var result = new List<NthObservation>();
        foreach (double t in config.Times)
        {
            using var step = NewDisposeScope();
            flow.AdvanceTo(t, cancellation);
            var f = Outputs(net, probe);
            var ntk = EmpiricalNtk.Compute(net, probe, train, new NtkOptions(output));
            double loss = flow.Loss();
            double change = ntk.sub(theta0).norm().item<double>() / theta0Norm;
            foreach (var h in hierarchies)
            {
                h.AdvanceTo(t, cancellation);
                result.Add(new NthObservation(width, seedIndex, h.Order, t, loss,
                    h.Outputs.sub(f).norm().item<double>() / rms, h.Ntk.sub(ntk).norm().item<double>() / theta0Norm, change));
            }
        }
        foreach (var h in hierarchies) h.Dispose();
        double dynamicsSeconds = watch.Elapsed.TotalSeconds;
        long parameters = ParameterVector.Of(net).Count;
        _logger.LogInformation("width {Width} seed {Seed}: P = {P}, kernels {Kernel:F1} s, dynamics {Dynamics:F1} s ({Steps} flow steps), final loss {Loss:G3}",
            width, seedIndex, parameters, kernelSeconds, dynamicsSeconds, flow.Steps, result[^1].Loss);
        return (result, new NthTiming(width, seedIndex, parameters, kernelSeconds, dynamicsSeconds));
    }

    /// <summary>Training and test inputs with training targets <c>[n, O]</c> for one seed (shared by every width).</summary>
    private sealed record NthData(Tensor Train, Tensor Test, Tensor Targets) : IDisposable
    {
        public void Dispose()
        {
            Train.Dispose();
            Test.Dispose();
            Targets.Dispose();
        }
    }

    private NthData Data(long seed)
    {
        using var scope = NewDisposeScope();
        var device = config.Device ?? CPU;
        Tensor train, test, y;
        if (config.Images is { } images)
        {
            using var sweep = SweepData.Load(images with { TrainSize = config.TrainPoints, TestSize = config.TestPoints, Seed = seed },
                                             config.ImageSize, config.DType, device, _logger);
            _logger.LogInformation("seed {Seed}: {Data}", seed, sweep.Description);
            (train, test) = (sweep.TrainInputs.clone(), sweep.TestInputs.clone());
            y = config.Outputs == 1 ? sweep.TrainTargets.clone() : cat([sweep.TrainTargets, sweep.TrainTargets.neg()], 1);
        }
        else
        {
            // Seeded inputs on the unit sphere and the degree-2 harmonics in·x_a·x_{a+1}.
            long dim = config.InputSize;
            using var g = new Generator((ulong)(seed + 1_000_003));
            var x = nn.functional.normalize(randn(config.TrainPoints + config.TestPoints, dim, ScalarType.Float64, generator: g));
            y = stack(Enumerable.Range(0, config.Outputs).Select(a => x.select(1, a % dim).mul(x.select(1, (a + 1) % dim)).mul(dim)).ToArray(), 1)
                .narrow(0, 0, config.TrainPoints).to(config.DType, device);
            x = x.to(config.DType, device);
            (train, test) = (x.narrow(0, 0, config.TrainPoints).contiguous(), x.narrow(0, config.TrainPoints, config.TestPoints).contiguous());
        }
        return new NthData(train.MoveToOuterDisposeScope(), test.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    /// <summary>f on <paramref name="x"/>: <c>[N]</c> for one output, <c>[N, O]</c> otherwise (the hierarchy's layout).</summary>
    private Tensor Outputs(Network net, Tensor x)
    {
        using var noGrad = no_grad();
        var f = net.forward(x);
        return config.Outputs == 1 ? f.reshape(-1) : f;
    }

    public static IReadOnlyList<NthSummary> Summarize(IEnumerable<NthObservation> observations) =>
        observations.GroupBy(o => (o.Width, o.Order))
            .Select(g => new NthSummary(g.Key.Width, g.Key.Order,
                g.GroupBy(o => o.Seed).Average(s => s.Max(o => o.OutputError)),
                g.GroupBy(o => o.Seed).Average(s => s.Max(o => o.NtkError))))
            .OrderBy(s => s.Order).ThenBy(s => s.Width).ToArray();

    public static IReadOnlyList<NthExponent> FitExponents(IReadOnlyList<NthSummary> summary)
    {
        var result = new List<NthExponent>();
        foreach (var group in summary.GroupBy(s => s.Order))
        {
            var widths = group.Select(s => (double)s.Width).ToArray();
            var fOut = PowerLawFit.Fit(widths, group.Select(s => s.MaxOutputError).ToArray());
            var fNtk = PowerLawFit.Fit(widths, group.Select(s => s.MaxNtkError).ToArray());
            result.Add(new NthExponent(group.Key, "output", fOut.Exponent, fOut.RSquared));
            result.Add(new NthExponent(group.Key, "ntk", fNtk.Exponent, fNtk.RSquared));
        }
        return result;
    }
}
