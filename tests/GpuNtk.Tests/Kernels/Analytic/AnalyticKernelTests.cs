using GpuNtk.Kernels.Analytic;
using GpuNtk.Networks;
using GpuNtk.Tests.Kernels.MonteCarlo;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Analytic;

public sealed class AnalyticKernelTests
{
    private static Tensor Inputs(long n, long features, ulong seed = 5)
    {
        using var g = new Generator(seed);
        return randn([n, features], ScalarType.Float64, generator: g);
    }

    [Test]
    public void OneHiddenLayerReluByHand()
    {
        // f = dense(σw, σb) ∘ relu ∘ dense(σw, σb): K₁ = σw²⟨x, x'⟩/d + σb², K₂ = σw²·T(K₁) + σb², Θ₂ = K₂ + σw²·K₁·Ṫ(K₁).
        double w = 1.3, b = 0.4;
        var kernel = AnalyticKernel.FromSpec($"fcn:depth=1,act=relu,in=5,wstd={w},bstd={b}");
        var x = Inputs(3, 5);
        using var result = kernel.Compute(x);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                double Dot(int p, int q) => (x[p] * x[q]).sum().item<double>() / 5;
                double k11 = w * w * Dot(i, i) + b * b, k22 = w * w * Dot(j, j) + b * b, k12 = w * w * Dot(i, j) + b * b;
                double c = Math.Clamp(k12 / Math.Sqrt(k11 * k22), -1, 1), theta = Math.Acos(c);
                double t = Math.Sqrt(k11 * k22) * (Math.Sin(theta) + (Math.PI - theta) * c) / (2 * Math.PI);
                double tDot = (Math.PI - theta) / (2 * Math.PI);
                double nngp = w * w * t + b * b, ntk = nngp + w * w * k12 * tDot;
                Assert.That(result.Nngp![i, j].item<double>(), Is.EqualTo(nngp).Within(1e-12), $"NNGP[{i},{j}]");
                Assert.That(result.Ntk![i, j].item<double>(), Is.EqualTo(ntk).Within(1e-12), $"NTK[{i},{j}]");
            }
    }

    [Test]
    public void DepthZeroIsTheLinearKernel()
    {
        var x = Inputs(4, 7);
        using var result = AnalyticKernel.FromSpec("fcn:depth=0,in=7,wstd=2,bstd=0.5").Compute(x);
        using var expected = x.matmul(x.t()).mul(4.0 / 7).add(0.25);
        Assert.That(result.Nngp!.allclose(expected, rtol: 1e-12, atol: 1e-12));
        Assert.That(result.Ntk!.allclose(expected, rtol: 1e-12, atol: 1e-12), "no hidden layer: Θ = K");
    }

    [TestCase("fcn:depth=3,act=relu,in=10")]
    [TestCase("fcn:depth=2,act=erf,in=10")]
    [TestCase("fcn:depth=2,act=gelu,in=10")]
    [TestCase("fcn:depth=2,act=tanh,in=10")]
    [TestCase("fcn:depth=2,act=identity,in=10")]
    [TestCase("cnn:depth=1,act=relu,in=2,size=8")]
    [TestCase("cnn:depth=0,act=erf,in=1,size=4")]
    [TestCase("wrn:depth=10,act=relu,in=1,size=4")]
    public void KernelsAreSymmetricPositiveSemidefinite(string spec)
    {
        var kernel = AnalyticKernel.FromSpec(spec);
        var x = Inputs(spec.StartsWith("fcn") ? 30 : 8, ArchitectureSpec.Parse(spec).InputSize);
        using var result = kernel.Compute(x);
        foreach (var (name, k) in new[] { ("NNGP", result.Nngp!), ("NTK", result.Ntk!) })
        {
            Assert.That(k.eq(k.t()).all().item<bool>(), $"{name} exactly symmetric");
            var eigenvalues = linalg.eigvalsh(k);
            double min = eigenvalues.min().item<double>(), max = eigenvalues.max().item<double>();
            Assert.That(max, Is.GreaterThan(0), name);
            Assert.That(min, Is.GreaterThan(-1e-12 * max), $"{name}: smallest eigenvalue {min:E3} (largest {max:E3})");
        }
    }

    [TestCase("fcn:depth=2,act=relu,in=6")]
    [TestCase("cnn:depth=1,act=gelu,in=2,size=4")]
    public void BlockingAndSymmetryDoNotChangeTheResult(string spec)
    {
        var kernel = AnalyticKernel.FromSpec(spec);
        long features = ArchitectureSpec.Parse(spec).InputSize;
        var x1 = Inputs(7, features, 1);
        var x2 = Inputs(5, features, 2);
        using var whole = kernel.Compute(x1);
        using var blocked = kernel.Compute(x1, null, new AnalyticKernelOptions(BlockSize: 3));
        using var asymmetric = kernel.Compute(x1, x1.clone(), new AnalyticKernelOptions(BlockSize: 2));
        using var cross = kernel.Compute(x1, x2, new AnalyticKernelOptions(BlockSize: 4));
        using var joint = kernel.Compute(cat([x1, x2]));
        Assert.That(blocked.Nngp!.allclose(whole.Nngp!, rtol: 1e-12, atol: 1e-12), "blocked NNGP");
        Assert.That(blocked.Ntk!.allclose(whole.Ntk!, rtol: 1e-12, atol: 1e-12), "blocked NTK");
        // Given X2 = X1 as a separate tensor, the kernel cannot know xᵢ is paired with itself: its diagonal comes from
        // Gram entries that differ from the self-variances by rounding ε, which the ReLU dual's √(1 − c) turns into √ε.
        var offDiagonal = ones(7, 7, ScalarType.Float64) - eye(7, dtype: ScalarType.Float64);
        Assert.That((asymmetric.Ntk! * offDiagonal).allclose(whole.Ntk! * offDiagonal, rtol: 1e-12, atol: 1e-12), "X2 = copy of X1: off-diagonal NTK");
        Assert.That(asymmetric.Ntk!.allclose(whole.Ntk!, rtol: 1e-6, atol: 0), "X2 = copy of X1: diagonal NTK to √ε");
        Assert.That(asymmetric.Nngp!.allclose(whole.Nngp!, rtol: 1e-12, atol: 1e-12), "X2 = copy of X1: NNGP");
        Assert.That(cross.Ntk!.allclose(joint.Ntk!.narrow(0, 0, 7).narrow(1, 7, 5), rtol: 1e-13, atol: 1e-13), "X1×X2 block");
    }

    [TestCase("fcn:depth=3,act=erf,in=6")]
    [TestCase("cnn:depth=1,act=relu,in=3,size=4")]
    public void DiagonalMatchesTheFullKernel(string spec)
    {
        var kernel = AnalyticKernel.FromSpec(spec);
        var x = Inputs(6, ArchitectureSpec.Parse(spec).InputSize);
        using var full = kernel.Compute(x);
        using var diagonal = kernel.ComputeDiagonal(x);
        Assert.That(diagonal.Nngp!.allclose(full.Nngp!.diagonal(), rtol: 1e-13, atol: 0));
        Assert.That(diagonal.Ntk!.allclose(full.Ntk!.diagonal(), rtol: 1e-13, atol: 0));
    }

    [TestCase("fcn:depth=3,act=relu,in=20")]
    [TestCase("fcn:depth=2,act=gelu,in=20")]
    [TestCase("cnn:depth=1,act=erf,in=2,size=4")]
    public void Float32AgreesWithFloat64(string spec)
    {
        var kernel = AnalyticKernel.FromSpec(spec);
        var x = Inputs(10, ArchitectureSpec.Parse(spec).InputSize);
        using var k64 = kernel.Compute(x);
        using var k32 = kernel.Compute(x.to(ScalarType.Float32));
        Assert.That(k32.Ntk!.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(MonteCarloAgreementTests.RelativeError(k32.Ntk!.to(ScalarType.Float64), k64.Ntk!), Is.LessThan(1e-5));
        Assert.That(MonteCarloAgreementTests.RelativeError(k32.Nngp!.to(ScalarType.Float64), k64.Nngp!), Is.LessThan(1e-5));
    }

    [TestCase(KernelKinds.Both)]
    [TestCase(KernelKinds.Nngp)]
    public void FusedCpuKernelMatchesTensorOps(KernelKinds kinds)
    {
        // 37 and 13 examples in blocks of 16: SIMD bodies, scalar tails, diagonal and off-diagonal blocks.
        var kernel = AnalyticKernel.FromSpec("fcn:depth=3,act=relu,in=20,bstd=0.3");
        var x1 = Inputs(37, 20, 1).to(ScalarType.Float32);
        var x2 = Inputs(13, 20, 2).to(ScalarType.Float32);
        foreach (var x2Case in new[] { null, x2 })
        {
            using var fused = kernel.Compute(x1, x2Case, new AnalyticKernelOptions(kinds, BlockSize: 16));
            using var plain = kernel.Compute(x1, x2Case, new AnalyticKernelOptions(kinds, BlockSize: 16, FuseCpuKernels: false));
            Assert.That(MonteCarloAgreementTests.RelativeError(fused.Nngp!.to(ScalarType.Float64), plain.Nngp!.to(ScalarType.Float64)), Is.LessThan(2e-6), "NNGP");
            if (kinds == KernelKinds.Nngp) { Assert.That(fused.Ntk, Is.Null); continue; }
            Assert.That(MonteCarloAgreementTests.RelativeError(fused.Ntk!.to(ScalarType.Float64), plain.Ntk!.to(ScalarType.Float64)), Is.LessThan(2e-6), "NTK");
        }
    }

    [Test]
    public void FusedArcCosineIsAccurate()
    {
        var x = linspace(-1, 1, 800_001, ScalarType.Float32);
        var values = x.data<float>().ToArray();
        double maxError = 0;
        for (int i = 0; i + 8 <= values.Length; i += 8)
        {
            var v = System.Runtime.Intrinsics.Vector256.Create(values.AsSpan(i, 8));
            var acos = CpuReluDenseFusion.Acos(v);
            for (int j = 0; j < 8; j++) maxError = Math.Max(maxError, Math.Abs(acos[j] - Math.Acos(values[i + j])));
        }
        Assert.That(maxError, Is.LessThan(4e-7), "within two float32 ulps of π");
    }

    [Test]
    public void NngpOnlyAndNtkOnlyMatchBoth()
    {
        var kernel = AnalyticKernel.FromSpec("fcn:depth=2,act=erf,in=4");
        var x = Inputs(5, 4);
        using var both = kernel.Compute(x);
        using var nngp = kernel.Nngp(x);
        using var ntk = kernel.Ntk(x);
        Assert.That(nngp.allclose(both.Nngp!, rtol: 0, atol: 0));
        Assert.That(ntk.allclose(both.Ntk!, rtol: 0, atol: 0));
    }

    [TestCase("gelu")]
    [TestCase("erf")]
    public void NetworkKernelWithClosedFormsEqualsQuadrature(string act)
    {
        // The whole recursion with the activation's dual replaced by 2-D Gauss–Hermite quadrature of φ itself.
        var closed = AnalyticKernel.FromSpec($"fcn:depth=3,act={act},in=8");
        Func<Tensor, Tensor> phi = act == "gelu" ? x => nn.functional.gelu(x) : torch.erf;
        var quadrature = new AnalyticKernel(closed.Input, closed.Layers
            .Select(l => l is ActivationKernelLayer ? new ActivationKernelLayer(new QuadratureDual(act, phi, order: 128)) : l).ToList());
        var x = Inputs(6, 8);
        using var a = closed.Compute(x);
        using var q = quadrature.Compute(x);
        Assert.That(MonteCarloAgreementTests.RelativeError(q.Nngp!, a.Nngp!), Is.LessThan(1e-9));
        Assert.That(MonteCarloAgreementTests.RelativeError(q.Ntk!, a.Ntk!), Is.LessThan(1e-9), "Ṫ by autograd through φ");
    }

    [Test]
    public void ConvolutionMatchesAnExplicitPatchOracle()
    {
        // Linear CNN conv3×3 → global average pooling → dense. Over the weights, g = GAP(conv(x)) has covariance
        // σw²/(C·9)·⟨m(x), m(x')⟩ + σb², m(x) the position-mean of the zero-padded 3×3 patches (torch unfold): this
        // fixes the zero padding and the fan-in normalisation independently of the recursion's shift-and-sum.
        double w1 = 1.7, b1 = 0.3, w2 = 0.9, b2 = 0.2;
        var kernel = new AnalyticKernel(new ImageKernelInput(3, 5, 5),
            [new ConvKernelLayer(3, 1, w1, b1), new GlobalAveragePoolKernelLayer(), new DenseKernelLayer(w2, b2)]);
        var x = Inputs(4, 75);
        using var result = kernel.Compute(x);
        var m = nn.functional.unfold(x.reshape(4, 3, 5, 5), 3, padding: 1).mean([2L]);   // [N, C·9]
        var kg = m.matmul(m.t()).mul(w1 * w1 / 27).add(b1 * b1);
        var nngp = kg * (w2 * w2) + b2 * b2;
        Assert.That(result.Nngp!.allclose(nngp, rtol: 1e-12, atol: 1e-12), "NNGP");
        Assert.That(result.Ntk!.allclose(nngp + kg * (w2 * w2), rtol: 1e-12, atol: 1e-12), "NTK = K + σw²·Θ_g, Θ_g = K_g");
    }

    [Test]
    public void StridedConvolutionSubsamplesTheStrideOneKernel()
    {
        var x = Inputs(3, 2 * 6 * 6);
        var input = new ImageKernelInput(2, 6, 6);
        var dense = new DenseKernelLayer(1, 0);
        using var strided = new AnalyticKernel(input, [new ConvKernelLayer(3, 2, 1.2, 0.1), new FlattenKernelLayer(), dense]).Compute(x);
        // Stride 2 keeps the outputs at even pixels; flatten then averages the diagonal over those 9 pixels.
        var full = new ConvKernelLayer(3, 1, 1.2, 0.1).Apply(input.Grid(x, x), KernelContext.ForPairs(new SelfVariances()));
        var even = full.Nngp.slice(2, 0, 6, 2).slice(3, 0, 6, 2).slice(4, 0, 6, 2).slice(5, 0, 6, 2);
        var expected = even.reshape(3, 3, 9, 9).diagonal(0, 2, 3).mean([-1L]);
        Assert.That(strided.Nngp!.allclose(expected, rtol: 1e-12, atol: 1e-12));
    }

    [Test]
    public void LayersMirrorTheNetworks()
    {
        Assert.That(AnalyticKernel.FromSpec("fcn:depth=2,act=erf,in=3,wstd=1.5,bstd=0.2").ToString(), Is.EqualTo(
            "FlatKernelInput → dense(wstd=1.5,bstd=0.2) → erf → dense(wstd=1.5,bstd=0.2) → erf → dense(wstd=1.5,bstd=0.2)"));
        Assert.That(AnalyticKernel.FromSpec("cnn:depth=1,act=relu,wstd=1,bstd=0").ToString(), Is.EqualTo(
            "ImageKernelInput → conv3x3/1(wstd=1,bstd=0) → relu → conv3x3/1(wstd=1,bstd=0) → relu → avg_pool2 → " +
            "conv3x3/1(wstd=1,bstd=0) → relu → avg_pool2 → conv3x3/1(wstd=1,bstd=0) → relu → global_avg_pool → dense(wstd=1,bstd=0)"));
        var wrn = AnalyticKernel.FromSpec("wrn:depth=10");
        Assert.That(wrn.Layers.OfType<ResidualKernelLayer>().Count(), Is.EqualTo(3));
        Assert.That(wrn.Layers.OfType<ResidualKernelLayer>().Select(r => r.Shortcut.Count), Is.EqualTo(new[] { 0, 1, 1 }),
            "k = 1: identity shortcut in the first group, 1×1 strided convolutions where the shape changes");
        // The structure can depend on the width (k > 1 adds a shortcut convolution): FromSpec must match the full network.
        foreach (var text in new[] { "wrn:depth=16,k=3,size=8", "wrn:depth=10,k=2,size=8", "cnn:depth=2,channels=5,size=8", "fcn:depth=3,width=7,in=4" })
        {
            using var net = NetworkFactory.Create(text, 0);
            Assert.That(AnalyticKernel.FromSpec(text).ToString(), Is.EqualTo(AnalyticKernel.FromNetwork(net).ToString()), text);
        }
    }

    [Test]
    public void RejectsStandardParameterizationAndBadInputs()
    {
        var e = Assert.Throws<ArgumentException>(() => AnalyticKernel.FromSpec("fcn:param=standard"));
        Assert.That(e!.Message, Does.Contain("param=ntk"));
        var kernel = AnalyticKernel.FromSpec("fcn:in=4");
        var bad = Assert.Throws<ArgumentException>(() => kernel.Compute(zeros(3, 5, ScalarType.Float64)));
        Assert.That(bad!.Message, Does.Contain("[N, 4]"));
        Assert.Throws<ArgumentException>(() => kernel.Compute(zeros(3, 4, ScalarType.Float64), zeros(3, 4, ScalarType.Float32)));
        Assert.Throws<ArgumentException>(() => kernel.Compute(zeros(3, 4, ScalarType.Int64)));
    }

    [Test]
    public void ZeroInputsWithoutBiasGiveZeroKernelsNotNaN()
    {
        using var result = AnalyticKernel.FromSpec("fcn:depth=2,act=relu,in=3,bstd=0").Compute(zeros(2, 3, ScalarType.Float64));
        Assert.That(result.Ntk!.abs().max().item<double>(), Is.LessThan(1e-100));
        Assert.That(result.Nngp!.isnan().any().item<bool>(), Is.False);
    }
}
