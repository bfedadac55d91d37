using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training.Telemetry;

/// <summary>
/// Measures a network on a fixed probe (a training subset and a test subset), on the device, with one host transfer per
/// row: losses and (for classification data) accuracies; the traced NTK Θt on the first <c>ntkExamples</c> training-probe examples and its
/// change ‖Θt−Θ0‖F/‖Θ0‖F, extreme eigenvalues, condition number and kernel–target alignment ⟨Θ, YYᵀ⟩F/(‖Θ‖F‖YYᵀ‖F);
/// parameter drift ‖θt−θ0‖/‖θ0‖ in total and per parameterized submodule (one that owns trainable parameters, by its
/// name), ‖θt−θ0‖ and, when a width is given, ‖θt−θ0‖/√width; and, when a
/// linearized companion is given, ‖ft − ft_lin‖F on the training probe, its RMSE on both probes and f_lin's losses.
/// θ0 is the network's parameters when this object is created; Θ0 is the first NTK measured (or restored).
/// </summary>
public sealed class ProbeTelemetry : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _network;
    private readonly LabeledData _train;
    private readonly LabeledData _test;
    private readonly LossKind _loss;
    private readonly int _ntkExamples;
    private readonly nn.Module<Tensor, Tensor>? _linearized;
    private readonly (string Name, Tensor Value)[] _parameters;
    private readonly Tensor[] _theta0;
    private readonly (string Layer, int[] Indices)[] _layers;
    private readonly double? _sqrtWidth;
    private Tensor? _ntk0;
    private NtkOptions? _ntkOptions;
    private readonly (Tensor Value, Tensor Initial)[] _companion;

    /// <summary>Telemetry of a spec-built network; ‖θt−θ0‖/√width uses <see cref="Width(ArchitectureSpec)"/>.</summary>
    public ProbeTelemetry(Network network, LabeledData probeTrain, LabeledData probeTest, LossKind loss, int ntkExamples,
        nn.Module<Tensor, Tensor>? linearized = null)
        : this((nn.Module<Tensor, Tensor>)network, probeTrain, probeTest, loss, ntkExamples, linearized, Width(network.Spec))
    {
    }

    /// <summary>Telemetry of any module whose output for one example depends on that example only.</summary>
    /// <param name="width">Normalises ‖θt−θ0‖ in <c>param_dist_per_sqrt_width</c>; null: that column is left out.</param>
    public ProbeTelemetry(nn.Module<Tensor, Tensor> network, LabeledData probeTrain, LabeledData probeTest, LossKind loss, int ntkExamples,
        nn.Module<Tensor, Tensor>? linearized, long? width)
    {
        if (ntkExamples < 0 || ntkExamples > probeTrain.Count) throw new ArgumentException($"the NTK probe ({ntkExamples}) must be within the training probe ({probeTrain.Count})");
        _network = network;
        _train = probeTrain;
        _test = probeTest;
        _loss = loss;
        _ntkExamples = ntkExamples;
        _linearized = linearized;
        _parameters = network.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, (Tensor)p.parameter)).ToArray();
        _theta0 = _parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToArray();
        var position = _parameters.Select((p, i) => (p.Name, i)).ToDictionary(p => p.Name, p => p.i);
        _layers = network.named_modules()
            .Where(m => m.name.Length > 0)
            .Select(m => (m.name, m.module.named_parameters(recurse: false)
                .Select(p => position.TryGetValue($"{m.name}.{p.name}", out var i) ? i : -1).Where(i => i >= 0).ToArray()))
            .Where(l => l.Item2.Length > 0)
            .OrderBy(l => l.Item2.Min()) // forward (parameter) order, whatever order named_modules visits them in
            .ToArray();
        _sqrtWidth = width is { } w ? Math.Sqrt(w) : null;
        _companion = linearized?.parameters().Where(p => p.requires_grad)
            .Select(p => ((Tensor)p, p.detach().clone().DetachFromDisposeScope())).ToArray() ?? [];
    }

    /// <summary>The width used to normalise ‖θt−θ0‖: hidden units (FCN), channels (CNN), 16·k (WRN).</summary>
    public static long Width(ArchitectureSpec spec) => spec switch
    {
        FcnSpec f => f.Depth == 0 ? 1 : f.Width,
        CnnSpec c => c.Channels,
        WideResNetSpec w => 16 * w.WidenFactor,
        _ => 1,
    };

    /// <summary>θ0 (as named tensors) and Θ0 when measured, for checkpoints.</summary>
    public IEnumerable<(string Name, Tensor Value)> SaveState()
    {
        for (int i = 0; i < _parameters.Length; i++) yield return ("theta0." + _parameters[i].Name, _theta0[i]);
        if (_ntk0 is not null) yield return ("ntk0", _ntk0);
    }

    /// <summary>Restores θ0 and Θ0 from a checkpoint's tensors.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!state.TryGetValue("theta0." + _parameters[i].Name, out var t))
                throw new InvalidDataException($"the checkpoint has no θ0 for {_parameters[i].Name}: it is from another architecture");
            _theta0[i].copy_(t);
        }
        if (state.TryGetValue("ntk0", out var ntk0))
        {
            _ntk0?.Dispose();
            _ntk0 = ntk0.to(ScalarType.Float64, _theta0[0].device).DetachFromDisposeScope();
        }
    }

    /// <summary>Adds every probe metric to <paramref name="row"/>.</summary>
    public void Measure(MetricsRow row)
    {
        using var scope = NewDisposeScope();
        var values = new List<(string Name, Tensor Value)>();
        void Add(string name, Tensor value) => values.Add((name, value.to(ScalarType.Float64).reshape(1)));

        var (fTrain, fTest) = MeasureOutputs(Add);
        if (_ntkExamples > 0) MeasureNtk(Add);
        using (no_grad())
        {
            MeasureDrift(Add);
            if (_linearized is not null) MeasureLinearized(Add, fTrain, fTest);
        }
        // One device→host transfer for the whole row.
        var host = cat(values.Select(v => v.Value).ToArray()).cpu().data<double>().ToArray();
        for (int i = 0; i < values.Count; i++) row.Add(values[i].Name, host[i]);
    }

    private (Tensor Train, Tensor Test) MeasureOutputs(Action<string, Tensor> add)
    {
        using var noGrad = no_grad();
        var fTrain = _network.forward(_train.Inputs);
        add(Metric.TrainLoss, Losses.Compute(_loss, fTrain, _train.Targets, _train.Labels));
        // Regression data has no classes: no accuracy columns (rather than a meaningless argmax of targets).
        if (!_train.IsRegression) add(Metric.TrainAccuracy, Losses.Accuracy(fTrain, _train.Labels));
        if (_test.Count == 0) return (fTrain, empty(0));
        var fTest = _network.forward(_test.Inputs);
        add(Metric.TestLoss, Losses.Compute(_loss, fTest, _test.Targets, _test.Labels));
        if (!_test.IsRegression) add(Metric.TestAccuracy, Losses.Accuracy(fTest, _test.Labels));
        return (fTrain, fTest);
    }

    private void MeasureNtk(Action<string, Tensor> add)
    {
        var x = _train.Inputs.narrow(0, 0, _ntkExamples);
        _ntkOptions ??= OneTileOptions(_network, x);
        var theta = EmpiricalNtk.Compute(_network, x, null, _ntkOptions).detach().to(ScalarType.Float64);
        if (_ntk0 is null) _ntk0 = theta.clone().DetachFromDisposeScope();
        add(Metric.NtkChange, theta.sub(_ntk0).norm().div(_ntk0.norm()));
        var eig = linalg.eigvalsh(theta);
        var lambdaMax = eig[-1];
        // Θ is positive semi-definite: a negative λ_min is rounding, so it is 0 and the condition number infinite (null in the files).
        var lambdaMin = eig[0].clamp_min(0);
        add(Metric.NtkLambdaMax, lambdaMax);
        add(Metric.NtkLambdaMin, lambdaMin);
        add(Metric.NtkCondition, where(lambdaMin.gt(0), lambdaMax.div(lambdaMin), full_like(lambdaMax, double.PositiveInfinity)));
        var y = _train.Targets.narrow(0, 0, _ntkExamples).to(ScalarType.Float64);
        var yyT = y.matmul(y.t());
        add(Metric.NtkAlignment, theta.mul(yyT).sum().div(theta.norm().mul(yyT.norm())));
    }

    /// <summary>The most working memory the probe's NTK may take to be computed in one tile.</summary>
    internal const long MaxNtkMemoryBytes = 4L << 30;

    /// <summary>
    /// Traced-NTK options with the smallest memory budget (from the default 1 GiB, doubling up to
    /// <see cref="MaxNtkMemoryBytes"/>) that puts the whole NTK probe in one tile: with several tiles every block
    /// recaptures its two tiles' signals and re-forms their per-example weight gradients (convolutions), which costs
    /// several times the kernel itself; one tile captures and forms each once.
    /// </summary>
    private static NtkOptions OneTileOptions(nn.Module<Tensor, Tensor> network, Tensor x)
    {
        var options = new NtkOptions(Output: NtkOutput.Trace);
        while (options.MemoryBudgetBytes < MaxNtkMemoryBytes && EmpiricalNtk.Tiling(network, x, null, options).TileSize < x.shape[0])
            options = options with { MemoryBudgetBytes = Math.Min(2 * options.MemoryBudgetBytes, MaxNtkMemoryBytes) };
        return options;
    }

    private void MeasureDrift(Action<string, Tensor> add)
    {
        var distSq = stack(_parameters.Select((p, i) => p.Value.detach().sub(_theta0[i]).to(ScalarType.Float64).square().sum()).ToArray());
        var normSq = stack(_theta0.Select(t => t.to(ScalarType.Float64).square().sum()).ToArray());
        var dist = distSq.sum().sqrt();
        add(Metric.ParamDrift, dist.div(normSq.sum().sqrt()));
        add(Metric.ParamDistance, dist);
        if (_sqrtWidth is { } sqrtWidth) add(Metric.ParamDistancePerSqrtWidth, dist.div(sqrtWidth));
        foreach (var (layer, idx) in _layers)
        {
            var ix = tensor(idx.Select(i => (long)i).ToArray(), device: distSq.device);
            add(Metric.LayerDriftPrefix + layer, distSq.index_select(0, ix).sum().sqrt().div(normSq.index_select(0, ix).sum().sqrt()));
        }
    }

    private void MeasureLinearized(Action<string, Tensor> add, Tensor fTrain, Tensor fTest)
    {
        var linTrain = _linearized!.forward(_train.Inputs);
        var diff = fTrain.sub(linTrain).to(ScalarType.Float64);
        add(Metric.LinearizationError, diff.norm());
        add(Metric.LinearizationRmse, diff.square().mean().sqrt());
        if (_test.Count > 0)
        {
            var linTest = _linearized.forward(_test.Inputs);
            add(Metric.LinearizationTestRmse, fTest.sub(linTest).to(ScalarType.Float64).square().mean().sqrt());
            add(Metric.LinearizedTestLoss, Losses.Compute(_loss, linTest, _test.Targets, _test.Labels));
            if (!_test.IsRegression) add(Metric.LinearizedTestAccuracy, Losses.Accuracy(linTest, _test.Labels));
        }
        add(Metric.LinearizedTrainLoss, Losses.Compute(_loss, linTrain, _train.Targets, _train.Labels));
        add(Metric.LinearizedParamDistance, stack(_companion.Select(c => c.Value.detach().sub(c.Initial).to(ScalarType.Float64).square().sum()).ToArray()).sum().sqrt());
    }

    public void Dispose()
    {
        foreach (var t in _theta0) t.Dispose();
        foreach (var c in _companion) c.Initial.Dispose();
        _ntk0?.Dispose();
    }
}
