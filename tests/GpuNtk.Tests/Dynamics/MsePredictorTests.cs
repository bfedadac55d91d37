using GpuNtk.Dynamics.Ode;
using GpuNtk.Dynamics.Predictors;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Dynamics.DynamicsTestHelpers;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

public sealed class MsePredictorTests
{
    private const long N = 6, M = 4, O = 2;

    /// <summary>A joint PSD kernel on N train + M test points from random features (rank = features).</summary>
    private static Tensor JointKernel(long size, long features, ulong seed)
    {
        using var g = new Generator(seed);
        var phi = randn([size, features], ScalarType.Float64, generator: g);
        return phi.matmul(phi.t()).div_(features);
    }

    private static (Tensor Train, Tensor TestTrain) Split(Tensor joint, long n) =>
        (joint[..(int)n, ..(int)n], joint[(int)n.., ..(int)n]);

    [Test]
    public void GradientFlowMatchesTheMatrixExponentialFormulas()
    {
        // Full kernel on N·O = 12 rows from a joint [(N+M)·O]² kernel, example-major.
        var joint = JointKernel((N + M) * O, 40, 1);
        var (k, kst) = Split(joint, N * O);
        var y = Targets(N, O, 2);
        var f0 = Targets(N, O, 3).mul(0.5);
        var fs0 = Targets(M, O, 4).mul(0.5);
        const double eta = 0.8;
        double c = eta / (N * O);
        using var predictor = Predict.GradientDescentMse(TrainKernel4D(k), y, eta);
        double[] times = [0, 0.7, 3, 40];
        using var p = predictor.At(times, f0, fs0, TestKernel4D(kst));
        for (int i = 0; i < times.Length; i++)
        {
            var decay = linalg.matrix_exp(k.mul(-c * times[i]));
            var train = y.reshape(-1).add(decay.matmul(f0.sub(y).reshape(-1)));
            var eye = torch.eye(N * O, dtype: ScalarType.Float64);
            var test = fs0.reshape(-1).add(kst.matmul(linalg.solve(k, eye.sub(decay).matmul(y.sub(f0).reshape(-1)))));
            Assert.That(MaxAbs(p.Train[i].reshape(-1), train), Is.LessThan(1e-10), $"train, t={times[i]}");
            Assert.That(MaxAbs(p.Test![i].reshape(-1), test), Is.LessThan(1e-9), $"test, t={times[i]}");
        }
        // The same prediction from the flattened [N·O, N·O] layout.
        using var flat = Predict.GradientDescentMse(k, y, eta);
        using var q = flat.At(3, f0, fs0, kst);
        Assert.That(MaxAbs(q.Test!, p.Test![2]), Is.LessThan(1e-12));
    }

    private static Tensor TrainKernel4D(Tensor flat) => flat.reshape(N, O, N, O).permute(0, 2, 1, 3);
    private static Tensor TestKernel4D(Tensor flat) => flat.reshape(M, O, N, O).permute(0, 2, 1, 3);

    [Test]
    public void TracedKernelIsTheFullKernelTimesIdentity()
    {
        var joint = JointKernel(N + M, 30, 5);
        var (k, kst) = Split(joint, N);
        var eyeO = eye(O, dtype: ScalarType.Float64);
        var kFull = einsum("ij,ab->ijab", k, eyeO);
        var kstFull = einsum("ij,ab->ijab", kst, eyeO);
        var y = Targets(N, O, 6);
        var f0 = Targets(N, O, 7);
        var fs0 = Targets(M, O, 8);
        foreach (var options in new[] { new DynamicsOptions(), new DynamicsOptions(TrainingProcess.GradientDescent, 0.5) })
        {
            using var traced = Predict.GradientDescentMse(k, y, 1.3, options);
            using var full = Predict.GradientDescentMse(kFull, y, 1.3, options);
            using var a = traced.At(5, f0, fs0, kst);
            using var b = full.At(5, f0, fs0, kstFull);
            Assert.That(MaxAbs(a.Train, b.Train), Is.LessThan(1e-12));
            Assert.That(MaxAbs(a.Test!, b.Test!), Is.LessThan(1e-12));
            Assert.That(traced.MaxLearningRate, Is.EqualTo(full.MaxLearningRate).Within(1e-9));
        }
    }

    [TestCase(0.0)]
    [TestCase(0.9)]
    public void GradientDescentMatchesTheFunctionSpaceIteration(double beta)
    {
        var joint = JointKernel(N + M, 30, 9);
        var (k, kst) = Split(joint, N);
        var y = Targets(N, O, 10);
        var f = Targets(N, O, 11);
        var fs = Targets(M, O, 12);
        using var predictor = Predict.GradientDescentMse(k, y, 1, new DynamicsOptions(TrainingProcess.GradientDescent, beta));
        double eta = 0.7 * predictor.MaxLearningRate;
        using var p = Predict.GradientDescentMse(k, y, eta, new DynamicsOptions(TrainingProcess.GradientDescent, beta))
            .At(Enumerable.Range(0, 26).Select(i => (double)i).ToArray(), f, fs, kst);
        // PyTorch's heavy ball in function space: q ← β·q + Θ(f − y)/(N·O), f ← f − η·q (and the test set with Θ*).
        var q = zeros_like(f);
        var qs = zeros_like(fs);
        for (int step = 0; step <= 25; step++)
        {
            Assert.That(MaxAbs(p.Train[step], f), Is.LessThan(1e-10 * (1 + f.abs().max().item<double>())), $"train, k={step}");
            Assert.That(MaxAbs(p.Test![step], fs), Is.LessThan(1e-10 * (1 + fs.abs().max().item<double>())), $"test, k={step}");
            var residual = f.sub(y).div(N * O);
            q = q.mul(beta).add(k.matmul(residual));
            qs = qs.mul(beta).add(kst.matmul(residual));
            f = f.sub(q.mul(eta));
            fs = fs.sub(qs.mul(eta));
        }
    }

    [TestCase(0.0)]
    [TestCase(0.7)]
    public void ClosedFormFlowMatchesTheOdeSolver(double beta)
    {
        var joint = JointKernel((N + M) * O, 50, 13);
        var (k, kst) = Split(joint, N * O);
        var y = Targets(N, O, 14);
        var f0 = Targets(N, O, 15);
        var fs0 = Targets(M, O, 16);
        double[] times = [0.5, 4, 20];
        using var closed = Predict.GradientDescentMse(k, y, 2.0, new DynamicsOptions(Momentum: beta));
        using var ode = Predict.GradientDescent(OutputLoss.MeanSquaredError, k, y, 2.0, beta, new OdeOptions(1e-10, 1e-12));
        using var a = closed.At(times, f0, fs0, kst);
        using var b = ode.At(times, f0, fs0, kst);
        Assert.That(MaxAbs(a.Train, b.Train), Is.LessThan(1e-7));
        Assert.That(MaxAbs(a.Test!, b.Test!), Is.LessThan(1e-7));
        Assert.That(MaxAbs(a.Train[0], f0), Is.GreaterThan(1e-2), "the outputs must move");
    }

    [Test]
    public void InfinityIsTheLimitAndASingularKernelNeedsRegularization()
    {
        var joint = JointKernel(N + M, 3, 17); // rank 3 < N: Θ is singular
        var (k, kst) = Split(joint, N);
        var y = Targets(N, O, 18);
        var f0 = Targets(N, O, 19);
        var fs0 = Targets(M, O, 20);
        using var singular = Predict.GradientDescentMse(k, y, 1);
        Assert.That(singular.Eigenvalues.min().item<double>(), Is.GreaterThanOrEqualTo(0), "eigenvalues are clipped at 0");
        using (var finite = singular.At(1e3, f0, fs0, kst))
            Assert.That(finite.Train.isfinite().all().item<bool>() && finite.Test!.isfinite().all().item<bool>());
        var e = Assert.Throws<ArgumentException>(() => singular.AtInfinity(f0, fs0, kst));
        Assert.That(e!.Message, Does.Contain("regularization"));

        using var regularized = Predict.GradientDescentMse(k, y, 1, new DynamicsOptions(DiagonalRegularization: 1e-2));
        using var inf = regularized.AtInfinity(f0, fs0, kst);
        using var late = regularized.At(1e6, f0, fs0, kst);
        Assert.That(MaxAbs(inf.Test!, late.Test!), Is.LessThan(1e-8));
        Assert.That(MaxAbs(inf.Train, y), Is.EqualTo(0));
        // Kernel ridge regression: f* = f0* + Θ*(Θ + r·mean(diag Θ)·I)⁻¹(y − f0).
        double r = 1e-2 * k.diagonal().mean().item<double>();
        var expected = fs0.add(kst.matmul(linalg.solve(k.add(eye(N, dtype: ScalarType.Float64).mul(r)), y.sub(f0))));
        Assert.That(MaxAbs(inf.Test!, expected), Is.LessThan(1e-10));
    }

    [Test]
    public void MaxLearningRateIsTwoNOOverTheTopEigenvalue()
    {
        var k = JointKernel(N, 20, 21);
        var y = Targets(N, O, 22);
        double lambdaMax = linalg.eigvalsh(k)[-1].item<double>();
        Assert.That(Predict.MaxLearningRate(k, y), Is.EqualTo(2.0 * N * O / lambdaMax).Within(1e-9).Percent);
        Assert.That(Predict.MaxLearningRate(k, y, 0.9), Is.EqualTo(1.9 * 2.0 * N * O / lambdaMax).Within(1e-9).Percent);
        using var p = Predict.GradientDescentMse(k, y, 1, new DynamicsOptions(Momentum: 0.5));
        Assert.That(p.MaxLearningRate, Is.EqualTo(1.5 * 2.0 * N * O / lambdaMax).Within(1e-9).Percent);
    }

    [Test]
    public void RejectsKernelsThatDoNotFitTheTargetsAndFractionalSteps()
    {
        var y = Targets(N, O, 1);
        var e = Assert.Throws<ArgumentException>(() => Predict.GradientDescentMse(zeros(N + 1, N + 1, ScalarType.Float64), y, 1));
        Assert.That(e!.Message, Does.Contain("traced").And.Contain("README"));
        using var p = Predict.GradientDescentMse(JointKernel(N, 20, 2), y, 1, new DynamicsOptions(TrainingProcess.GradientDescent));
        Assert.Throws<ArgumentException>(() => p.At(2.5, y));
        var f = Assert.Throws<ArgumentException>(() => p.At(2, y, zeros(M, O, ScalarType.Float64), zeros(M, N + 1, ScalarType.Float64)));
        Assert.That(f!.Message, Does.Contain("kTestTrain"));
    }

    [Test]
    public void WorksInFloat32()
    {
        var k = JointKernel(N, 20, 3).to(ScalarType.Float32);
        var y = Targets(N, O, 4).to(ScalarType.Float32);
        using var p32 = Predict.GradientDescentMse(k, y, 1);
        using var p64 = Predict.GradientDescentMse(k.to(ScalarType.Float64), y.to(ScalarType.Float64), 1);
        using var a = p32.At(10, zeros_like(y));
        using var b = p64.At(10, zeros_like(y).to(ScalarType.Float64));
        Assert.That(a.Train.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(MaxAbs(a.Train.to(ScalarType.Float64), b.Train), Is.LessThan(1e-4));
    }
}
