using System.Diagnostics;
using GpuNtk.Dynamics.Linearization;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// Runs a <see cref="LinearizationSweepConfig"/>: for every width and seed, trains the network and its
/// <see cref="LinearizedModel"/> from the same θ0 with the same full-batch gradient descent (MSE, conventions of
/// src/GpuNtk/Kernels/README.md) and measures, over time, how far they drift apart (<see cref="SweepRecord"/>).
/// Theory (Lee et al. 2019, Theorem 2.1 and §3): all three scaling metrics are O(width^−1/2).
/// </summary>
public static class LinearizationSweep
{
    public static LinearizationSweepResult Run(LinearizationSweepConfig config, SweepData data, ScalarType dtype, Device device,
                                               ILogger? logger = null, IProgress<SweepRecord>? progress = null,
                                               CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        config.Validate();
        data.Validate();
        logger ??= NullLogger.Instance;
        var x = data.TrainInputs.to(dtype, device);
        var y = data.TrainTargets.to(dtype, device);
        var xTest = data.TestInputs.to(dtype, device);
        var yTest = data.TestTargets.to(dtype, device);
        var probe = x.narrow(0, 0, Math.Min(config.ProbeSize, x.shape[0]));

        double? etaMax = null;
        double eta;
        if (config.LearningRate is { } given) eta = given;
        else
        {
            long refWidth = config.Widths.Where(w => w <= config.LearningRateReferenceWidth).DefaultIfEmpty(config.Widths[0]).Max();
            using var reference = NetworkFactory.Create(config.SpecAt(refWidth, data.Features, data.Outputs), config.Seed, dtype, device);
            double lambdaMax = TopNtkEigenvalue(reference, x, config.PowerIterations, config.Seed);
            etaMax = 2.0 * x.shape[0] * data.Outputs / lambdaMax;
            eta = config.LearningRateFraction * etaMax.Value;
            logger.LogInformation("λ_max(Θ0) ≈ {LambdaMax:G4} at width {Width} ⇒ η_max = 2·N·O/λ_max ≈ {EtaMax:G4}; η = {Fraction}·η_max = {Eta:G4}",
                lambdaMax, refWidth, etaMax, config.LearningRateFraction, eta);
        }

        var records = new List<SweepRecord>();
        for (int s = 0; s < config.Seeds; s++)
        {
            long seed = config.Seed + s;
            foreach (var width in config.Widths)
            {
                cancellation.ThrowIfCancellationRequested();
                var watch = Stopwatch.StartNew();
                var spec = config.SpecAt(width, data.Features, data.Outputs);
                var run = RunOne(spec, width, seed, eta, config, x, y, xTest, yTest, probe, dtype, device, progress, cancellation);
                records.AddRange(run);
                var last = run[^1];
                logger.LogInformation(
                    "width {Width} seed {Seed}: {Seconds:F1}s, loss {Loss0:G3} → {Loss:G3} (lin {LossLin:G3}), ‖f−f_lin‖ {Gap:G3}, " +
                    "ΔΘ {Kernel:G3}, ‖Δθ‖/√n {Param:G3}",
                    width, seed, watch.Elapsed.TotalSeconds, run[0].TrainLoss, last.TrainLoss, last.TrainLossLinear, last.OutputGapTest,
                    last.KernelChange, last.ParameterChange);
            }
        }
        return new LinearizationSweepResult(config, records, eta, etaMax, data.Description);
    }

    private static List<SweepRecord> RunOne(FcnSpec spec, long width, long seed, double eta, LinearizationSweepConfig config, Tensor x, Tensor y,
                                            Tensor xTest, Tensor yTest, Tensor probe, ScalarType dtype, Device device,
                                            IProgress<SweepRecord>? progress, CancellationToken cancellation)
    {
        using var net = NetworkFactory.Create(spec, seed, dtype, device);
        using var lin = LinearizedModel.Create(net);
        using var kernel0 = EmpiricalNtk.Compute(net, probe, options: new NtkOptions(NtkOutput.Trace));
        double kernel0Norm = kernel0.norm().to(ScalarType.Float64).item<double>();
        var netParameters = net.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var pairs = lin.ParameterNames.Select((n, k) => (Current: netParameters[n], Initial: lin.Theta0[k])).ToArray();
        using var optNet = optim.SGD(net.parameters(), eta);
        using var optLin = optim.SGD(lin.parameters(), eta);
        var records = new List<SweepRecord>();
        for (int step = 0; step <= config.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            optNet.zero_grad();
            optLin.zero_grad();
            var f = net.forward(x);
            var fLin = lin.forward(x);
            var loss = Mse(f, y);
            var lossLin = Mse(fLin, y);
            if (step % config.EvalEvery == 0 || step == config.Steps)
            {
                var record = Measure(width, seed, step, f, fLin, loss, lossLin, net, lin, xTest, yTest, probe, kernel0, kernel0Norm, pairs);
                records.Add(record);
                progress?.Report(record);
                if (!double.IsFinite(record.TrainLoss))
                    throw new ArithmeticException($"width {width}: the loss diverged at step {step} (η = {eta:G4}); lower the learning rate");
            }
            if (step == config.Steps) break;
            loss.backward();
            lossLin.backward();
            optNet.step();
            optLin.step();
        }
        return records;
    }

    private static SweepRecord Measure(long width, long seed, int step, Tensor f, Tensor fLin, Tensor loss, Tensor lossLin, Network net,
                                       LinearizedModel lin, Tensor xTest, Tensor yTest, Tensor probe, Tensor kernel0, double kernel0Norm,
                                       (Parameter Current, Parameter Initial)[] pairs)
    {
        using var scope = NewDisposeScope();
        Tensor fTest, fTestLin;
        using (no_grad())
        {
            fTest = net.forward(xTest);
            fTestLin = lin.forward(xTest);
        }
        double kernelChange = step == 0 ? 0 : Host(EmpiricalNtk.Compute(net, probe, options: new NtkOptions(NtkOutput.Trace)).sub(kernel0).norm()) / kernel0Norm;
        double paramChange, linParamChange;
        using (no_grad())
        {
            paramChange = Math.Sqrt(Host(pairs.Select(p => p.Current.sub(p.Initial).square().sum()).Aggregate((a, b) => a.add(b)))) / Math.Sqrt(width);
            linParamChange = Host(lin.DeltaNorm()) / Math.Sqrt(width);
        }
        return new SweepRecord(
            width, seed, step,
            Host(loss), Host(lossLin), Host(Mse(fTest, yTest)), Host(Mse(fTestLin, yTest)),
            Accuracy(fTest, yTest), Accuracy(fTestLin, yTest),
            Rms(fTest.sub(fTestLin)), Rms(f.detach().sub(fLin.detach())),
            kernelChange, paramChange, linParamChange);
    }

    /// <summary>λ_max of the full NTK Θ(x, x) by power iteration with NTK-vector products (J·Jᵀ·v), never forming Θ.</summary>
    public static double TopNtkEigenvalue(nn.Module<Tensor, Tensor> model, Tensor x, int iterations, long seed)
    {
        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        using var scope = NewDisposeScope();
        Tensor shape;
        using (no_grad()) shape = model.forward(x);
        using var g = new Generator((ulong)seed + 17);
        var v = randn(shape.shape, ScalarType.Float64, generator: g).to(shape.dtype, shape.device);
        v = v.div(v.norm());
        double lambda = 0;
        for (int i = 0; i < iterations; i++)
        {
            var w = JacobianProducts.NtkVectorProduct(model, parameters, x, v);
            var norm = w.norm();
            lambda = Host(norm);
            v = w.div(norm);
        }
        return lambda;
    }

    private static Tensor Mse(Tensor f, Tensor y) => f.sub(y).square().sum().div(2.0 * f.numel());
    private static double Rms(Tensor d) => Math.Sqrt(Host(d.square().mean()));
    private static double Host(Tensor t) => t.to(ScalarType.Float64).item<double>();

    /// <summary>Two classes coded ±1 in one output: the sign; several outputs: the argmax.</summary>
    private static double Accuracy(Tensor f, Tensor y)
    {
        var hit = f.shape[1] == 1 ? f.sign().eq(y.sign()) : f.argmax(1).eq(y.argmax(1));
        return Host(hit.to(ScalarType.Float64).mean());
    }
}
