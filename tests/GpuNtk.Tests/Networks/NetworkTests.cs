using GpuNtk.Networks;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Networks;

public sealed class NetworkTests
{
    [TestCase("fcn:depth=2,width=32,in=12,out=3")]
    [TestCase("fcn:depth=0,in=5,out=2")]
    [TestCase("fcn:depth=4,width=7,in=3,out=1,param=standard")]
    public void FcnShapesAndParameterCount(string text)
    {
        var spec = (FcnSpec)ArchitectureSpec.Parse(text);
        using var net = NetworkFactory.Create(spec, seed: 1, ScalarType.Float64);
        Assert.That(net.ParameterCount, Is.EqualTo(spec.ParameterCount));
        using var y = net.forward(randn(5, spec.Inputs, ScalarType.Float64));
        Assert.That(y.shape, Is.EqualTo(new long[] { 5, spec.Outputs }));
        Assert.That(net.ParameterizedLayers.Count, Is.EqualTo(spec.Depth + 1));
    }

    [Test]
    public void CnnShapesAndParameterCount()
    {
        var spec = (CnnSpec)ArchitectureSpec.Parse("cnn:depth=2,channels=6,in=2,size=8,out=4");
        using var net = NetworkFactory.Create(spec, seed: 1, ScalarType.Float64);
        Assert.That(net.ParameterCount, Is.EqualTo(spec.ParameterCount));
        using var images = randn(3, 2, 8, 8, ScalarType.Float64);
        using var y = net.forward(images);
        Assert.That(y.shape, Is.EqualTo(new long[] { 3, 4 }));
        using var yFlat = net.forward(images.reshape(3, -1));
        Assert.That(yFlat.allclose(y), "flat and image inputs give the same outputs");
    }

    [TestCase(10, 1)]
    [TestCase(16, 2)]
    public void WideResNetShapesAndParameterCount(int depth, int k)
    {
        var spec = (WideResNetSpec)ArchitectureSpec.Parse($"wrn:depth={depth},k={k},size=8,out=5");
        using var net = NetworkFactory.Create(spec, seed: 1);
        Assert.That(net.ParameterCount, Is.EqualTo(spec.ParameterCount));
        using var y = net.forward(randn(2, 3, 8, 8));
        Assert.That(y.shape, Is.EqualTo(new long[] { 2, 5 }));
    }

    [Test]
    public void WideResNetHasNoCrossExampleCoupling()
    {
        using var net = NetworkFactory.Create("wrn:depth=10,size=8,out=3", seed: 4, ScalarType.Float64);
        using var x = randn(4, 3, 8, 8, ScalarType.Float64);
        using var batch = net.forward(x);
        using var single = net.forward(x.narrow(0, 2, 1));
        Assert.That(single.allclose(batch.narrow(0, 2, 1), rtol: 1e-12, atol: 1e-12), "no BatchNorm: each output depends on its input only");
    }

    [Test]
    public void SameSeedSameParametersDifferentSeedDifferent()
    {
        using var a = NetworkFactory.Create("cnn:channels=4,size=8", seed: 7);
        using var b = NetworkFactory.Create("cnn:channels=4,size=8", seed: 7);
        using var c = NetworkFactory.Create("cnn:channels=4,size=8", seed: 8);
        var pa = a.parameters().ToArray();
        var pb = b.parameters().ToArray();
        var pc = c.parameters().ToArray();
        Assert.That(pa.Zip(pb).All(p => p.First.eq(p.Second).all().item<bool>()), Is.True);
        Assert.That(pa.Zip(pc).All(p => p.First.eq(p.Second).all().item<bool>()), Is.False);
    }

    [Test]
    public void Float64AndFloat32NetworksHoldTheSameDraws()
    {
        using var f64 = NetworkFactory.Create("fcn:width=16,in=4,out=2", seed: 3, ScalarType.Float64);
        using var f32 = NetworkFactory.Create("fcn:width=16,in=4,out=2", seed: 3, ScalarType.Float32);
        Assert.That(f64.DType, Is.EqualTo(ScalarType.Float64));
        Assert.That(f32.DType, Is.EqualTo(ScalarType.Float32));
        foreach (var (p64, p32) in f64.parameters().Zip(f32.parameters()))
            Assert.That(p64.to(ScalarType.Float32).eq(p32).all().item<bool>(), Is.True);
        using var x = randn(3, 4, ScalarType.Float64);
        using var y64 = f64.forward(x);
        using var y32 = f32.forward(x.to(ScalarType.Float32));
        Assert.That(y64.to(ScalarType.Float32).allclose(y32, rtol: 1e-4, atol: 1e-5));
    }

    [Test]
    public void NtkParameterizationScalesByStdOverRootFanIn()
    {
        var spec = (FcnSpec)ArchitectureSpec.Parse("fcn:depth=0,in=9,out=2,wstd=1.5,bstd=0.25");
        using var net = NetworkFactory.Create(spec, seed: 2, ScalarType.Float64);
        var dense = (DenseLayer)net.ParameterizedLayers[0];
        using var x = randn(4, 9, ScalarType.Float64);
        using var expected = x.matmul(dense.weight.t()) * (1.5 / 3.0) + dense.bias * 0.25;
        using var y = net.forward(x);
        Assert.That(y.allclose(expected, rtol: 1e-12, atol: 1e-12));
    }

    [Test]
    public void StandardParameterizationMatchesPyTorchDefaultInitBounds()
    {
        using var net = NetworkFactory.Create("fcn:depth=1,width=400,in=100,out=2,param=standard", seed: 5, ScalarType.Float64);
        var first = (DenseLayer)net.ParameterizedLayers[0];
        double bound = 1 / Math.Sqrt(100);
        Assert.That(first.weight.abs().max().item<double>(), Is.LessThanOrEqualTo(bound));
        Assert.That(first.weight.abs().max().item<double>(), Is.GreaterThan(0.95 * bound));
        // U(−b, b) has variance b²/3.
        Assert.That(first.weight.var().item<double>(), Is.EqualTo(bound * bound / 3).Within(3).Percent);
        Assert.That(first.WeightMultiplier, Is.EqualTo(1.0));
    }

    [TestCase(Activation.Relu)]
    [TestCase(Activation.Erf)]
    [TestCase(Activation.Tanh)]
    [TestCase(Activation.Gelu)]
    [TestCase(Activation.Identity)]
    public void ActivationsMatchTheirDefinitions(Activation a)
    {
        using var x = linspace(-3, 3, 13, ScalarType.Float64);
        using var y = ActivationLayer.Apply(a, x);
        double[] xs = x.data<double>().ToArray();
        double[] ys = y.data<double>().ToArray();
        for (int i = 0; i < xs.Length; i++)
        {
            double v = xs[i];
            double expected = a switch
            {
                Activation.Relu => Math.Max(0, v),
                Activation.Tanh => Math.Tanh(v),
                Activation.Identity => v,
                Activation.Erf => ys[i], // checked by symmetry below
                _ => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
            };
            Assert.That(ys[i], Is.EqualTo(expected).Within(1e-6));
        }
        if (a == Activation.Erf) Assert.That(ys[6], Is.EqualTo(0).Within(1e-15));
        if (a == Activation.Erf) Assert.That(ys[12], Is.EqualTo(0.9999779095030014).Within(1e-12));
    }

    /// <summary>
    /// At init, a wide NTK-parameterized ReLU FCN's outputs are Gaussian with variance given by the NNGP recursion
    /// q⁰ = σw²‖x‖²/d + σb², qˡ⁺¹ = σw²·qˡ/2 + σb² (E[relu(z)²] = q/2 for z ~ N(0, q)).
    /// </summary>
    [Test]
    public void WideReluOutputVarianceMatchesNngpDiagonal()
    {
        const int seeds = 40, depth = 2, width = 1024, inputs = 16, outputs = 8;
        const double wStd = 1.3, bStd = 0.2;
        using var x = randn(3, inputs, ScalarType.Float64, generator: new Generator(11));
        var spec = $"fcn:depth={depth},width={width},in={inputs},out={outputs},wstd={wStd},bstd={bStd}";
        var samples = new List<Tensor>();
        for (int s = 0; s < seeds; s++)
        {
            using var net = NetworkFactory.Create(spec, seed: 100 + s, ScalarType.Float64);
            using (no_grad()) samples.Add(net.forward(x));
        }
        using var all = stack(samples); // [seeds, 3, outputs]
        for (int i = 0; i < 3; i++)
        {
            double q = wStd * wStd * x[i].square().sum().item<double>() / inputs + bStd * bStd;
            for (int l = 0; l < depth; l++) q = wStd * wStd * q / 2 + bStd * bStd;
            double empirical = all[.., i, ..].square().mean().item<double>();
            double n = seeds * outputs;
            // Standard error of a Gaussian second moment: q·√(2/n); allow 4σ plus the O(1/width) finite-width bias.
            Assert.That(empirical, Is.EqualTo(q).Within(q * (4 * Math.Sqrt(2 / n) + 4.0 / width)), $"input {i}");
        }
        foreach (var t in samples) t.Dispose();
    }

    [Test]
    public void RejectsNonFloatingDTypes() =>
        Assert.Throws<ArgumentException>(() => NetworkFactory.Create("fcn", 0, ScalarType.Int32));

    private static double Erf(double x)
    {
        // Abramowitz–Stegun 7.1.26 is too coarse; use the series/continued fraction via the complementary error function.
        double t = 1 / (1 + 0.5 * Math.Abs(x));
        double y = 1 - t * Math.Exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? y : -y;
    }
}
