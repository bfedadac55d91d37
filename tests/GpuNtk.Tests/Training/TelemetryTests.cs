using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using GpuNtk.Training;
using GpuNtk.Training.Telemetry;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>Every telemetry value against a direct computation from its definition.</summary>
public sealed class TelemetryTests
{
    [Test]
    public void ProbeMetricsEqualIndependentComputations()
    {
        using var net = NetworkFactory.Create("fcn:depth=2,width=8,act=tanh,in=5,out=3", seed: 4, ScalarType.Float64);
        using var g = new Generator(9);
        var labelsTrain = tensor(new long[] { 0, 2, 1, 1, 0, 2 });
        var labelsTest = tensor(new long[] { 1, 0, 2, 2 });
        using var train = new LabeledData(randn([6, 5], ScalarType.Float64, generator: g), labelsTrain,
            Targets.Encode(labelsTrain, 3, 3, TargetEncoding.Centered, ScalarType.Float64), 3);
        using var test = new LabeledData(randn([4, 5], ScalarType.Float64, generator: g), labelsTest,
            Targets.Encode(labelsTest, 3, 3, TargetEncoding.Centered, ScalarType.Float64), 3);
        var theta0 = net.parameters().Select(p => p.detach().clone()).ToArray();
        using var ntk0 = ReferenceNtk.Compute(net, train.Inputs.narrow(0, 0, 5), null, NtkOutput.Trace);
        using var telemetry = new ProbeTelemetry(net, train, test, LossKind.Mse, ntkExamples: 5);
        var row0 = new MetricsRow(0);
        telemetry.Measure(row0);
        Assert.That(row0[Metric.NtkChange], Is.EqualTo(0));
        Assert.That(row0[Metric.ParamDrift], Is.EqualTo(0));

        // Move the parameters (as training would), then measure again.
        using (no_grad())
            foreach (var p in net.parameters()) p.add_(randn(p.shape, ScalarType.Float64, generator: g) * 0.05);
        var row = new MetricsRow(1);
        telemetry.Measure(row);

        using var ntk = ReferenceNtk.Compute(net, train.Inputs.narrow(0, 0, 5), null, NtkOutput.Trace);
        const double tol = 1e-10;
        Assert.That(row[Metric.NtkChange], Is.EqualTo(((ntk - ntk0).norm() / ntk0.norm()).item<double>()).Within(tol));
        using var eig = linalg.eigvalsh(ntk);
        Assert.That(row[Metric.NtkLambdaMax], Is.EqualTo(eig[4].item<double>()).Within(tol));
        Assert.That(row[Metric.NtkLambdaMin], Is.EqualTo(eig[0].item<double>()).Within(tol));
        Assert.That(row[Metric.NtkCondition], Is.EqualTo((eig[4] / eig[0]).item<double>()).Within(1e-8));
        // Alignment ⟨Θ, YYᵀ⟩ / (‖Θ‖‖YYᵀ‖) by explicit sums.
        var y = train.Targets.narrow(0, 0, 5).data<double>().ToArray();
        var k = ntk.data<double>().ToArray();
        double inner = 0, kk = 0, yy = 0;
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
            {
                double yij = 0;
                for (int a = 0; a < 3; a++) yij += y[i * 3 + a] * y[j * 3 + a];
                inner += k[i * 5 + j] * yij;
                kk += k[i * 5 + j] * k[i * 5 + j];
                yy += yij * yij;
            }
        Assert.That(row[Metric.NtkAlignment], Is.EqualTo(inner / Math.Sqrt(kk * yy)).Within(tol));

        // Drift: total and per layer from the parameter lists.
        var now = net.parameters().Select(p => p.detach()).ToArray();
        double dist = Math.Sqrt(now.Zip(theta0).Sum(z => (z.First - z.Second).square().sum().item<double>()));
        double norm0 = Math.Sqrt(theta0.Sum(t => t.square().sum().item<double>()));
        Assert.That(row[Metric.ParamDrift], Is.EqualTo(dist / norm0).Within(tol));
        Assert.That(row[Metric.ParamDistance], Is.EqualTo(dist).Within(tol));
        Assert.That(row[Metric.ParamDistancePerSqrtWidth], Is.EqualTo(dist / Math.Sqrt(8)).Within(tol));
        // Layers are dense layers 1, 3, 5 of the Sequential: (weight, bias) pairs in order.
        string[] layerNames = ["layers.1", "layers.3", "layers.5"];
        for (int l = 0; l < 3; l++)
        {
            double d = 0, n0 = 0;
            for (int k2 = 2 * l; k2 < 2 * l + 2; k2++)
            {
                d += (now[k2] - theta0[k2]).square().sum().item<double>();
                n0 += theta0[k2].square().sum().item<double>();
            }
            Assert.That(row[Metric.LayerDriftPrefix + layerNames[l]], Is.EqualTo(Math.Sqrt(d / n0)).Within(tol), layerNames[l]);
        }

        // Losses and accuracies on both probes.
        using (no_grad())
        {
            foreach (var (set, loss, acc) in new[] { (train, Metric.TrainLoss, Metric.TrainAccuracy), (test, Metric.TestLoss, Metric.TestAccuracy) })
            {
                var f = net.forward(set.Inputs);
                Assert.That(row[loss], Is.EqualTo((f - set.Targets).square().sum().item<double>() / (2 * set.Count * 3)).Within(tol));
                var predicted = f.argmax(1).data<long>().ToArray();
                var truth = set.Labels.data<long>().ToArray();
                Assert.That(row[acc], Is.EqualTo(predicted.Zip(truth).Count(z => z.First == z.Second) / (double)set.Count));
            }
        }
        Assert.That(row.Contains(Metric.LinearizationError), Is.False);
    }

    [Test]
    public void CompanionModelGivesTheLinearizationColumns()
    {
        // The hook takes any module trained alongside; here a perturbed copy stands in for f_lin.
        using var net = NetworkFactory.Create("fcn:depth=1,width=6,in=4,out=2", seed: 1, ScalarType.Float64);
        using var other = NetworkFactory.Create("fcn:depth=1,width=6,in=4,out=2", seed: 2, ScalarType.Float64);
        var labels = tensor(new long[] { 0, 1, 1 });
        using var probe = new LabeledData(randn([3, 4], ScalarType.Float64), labels, Targets.Encode(labels, 2, 2, TargetEncoding.OneHot, ScalarType.Float64), 2);
        using var telemetry = new ProbeTelemetry(net, probe, probe, LossKind.Mse, 0, other);
        var row = new MetricsRow(0);
        telemetry.Measure(row);
        using var diff = net.forward(probe.Inputs) - other.forward(probe.Inputs);
        Assert.That(row[Metric.LinearizationError], Is.EqualTo(diff.norm().item<double>()).Within(1e-12));
        Assert.That(row[Metric.LinearizationRmse], Is.EqualTo(Math.Sqrt(diff.square().mean().item<double>())).Within(1e-12));
        Assert.That(row.Contains(Metric.NtkChange), Is.False, "NTK telemetry off with 0 examples");
    }
}
