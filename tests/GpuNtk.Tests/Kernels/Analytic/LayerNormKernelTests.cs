using GpuNtk.Kernels.Analytic;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Analytic;

/// <summary>
/// The LayerNorm kernel layer (the proof of "Adding a layer", src/GpuNtk/Kernels/README.md) and the analytic layer
/// registry: a hand-computed case, the placement check, and a user-registered kernel layer being used. The Monte Carlo
/// check of <c>norm=layer</c> is in <see cref="MonteCarloAgreementTests"/>.
/// </summary>
public sealed class LayerNormKernelTests
{
    private const double Epsilon = 1e-5; // LayerNormLayer's default

    private static Tensor Inputs(long n, long features, ulong seed = 9)
    {
        using var g = new Generator(seed);
        return randn([n, features], ScalarType.Float64, generator: g);
    }

    [Test]
    public void OneHiddenLayerWithLayerNormByHand()
    {
        // dense → LayerNorm → relu → dense: K₁ = Θ₁ = σw²⟨x, x'⟩/d + σb²; LayerNorm divides K₁ and Θ₁ by
        // √((K₁(x, x) + ε)(K₁(x', x') + ε)); then the ReLU arc-cosine dual and the readout as without it.
        double w = 1.3, b = 0.4;
        var kernel = AnalyticKernel.FromSpec($"fcn:depth=1,act=relu,norm=layer,in=5,wstd={w},bstd={b}");
        Assert.That(kernel.Layers.Select(l => l.GetType()), Is.EqualTo(new[]
            { typeof(DenseKernelLayer), typeof(LayerNormKernelLayer), typeof(ActivationKernelLayer), typeof(DenseKernelLayer) }));
        var x = Inputs(3, 5);
        using var result = kernel.Compute(x);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                double K1(int p, int q) => w * w * (x[p] * x[q]).sum().item<double>() / 5 + b * b;
                double norm = Math.Sqrt((K1(i, i) + Epsilon) * (K1(j, j) + Epsilon));
                double k11 = K1(i, i) / (K1(i, i) + Epsilon), k22 = K1(j, j) / (K1(j, j) + Epsilon), k12 = K1(i, j) / norm;
                double c = Math.Clamp(k12 / Math.Sqrt(k11 * k22), -1, 1), theta = Math.Acos(c);
                double t = Math.Sqrt(k11 * k22) * (Math.Sin(theta) + (Math.PI - theta) * c) / (2 * Math.PI);
                double tDot = (Math.PI - theta) / (2 * Math.PI);
                double nngp = w * w * t + b * b, ntk = nngp + w * w * k12 * tDot;
                Assert.That(result.Nngp![i, j].item<double>(), Is.EqualTo(nngp).Within(1e-10), $"NNGP[{i},{j}]");
                Assert.That(result.Ntk![i, j].item<double>(), Is.EqualTo(ntk).Within(1e-10), $"NTK[{i},{j}]");
            }
    }

    [Test]
    public void LayerNormAfterANonlinearityIsRejected()
    {
        var spec = (FcnSpec)ArchitectureSpec.Parse("fcn:depth=1,width=4,in=3,out=1");
        using var net = new Network(spec,
        [
            new FlattenLayer(), new DenseLayer(3, 4, spec.Parameterization, spec.WStd, spec.BStd), new ActivationLayer(Activation.Relu),
            new LayerNormLayer(), new DenseLayer(4, 1, spec.Parameterization, spec.WStd, spec.BStd),
        ]);
        var e = Assert.Throws<NotSupportedException>(() => AnalyticKernel.FromNetwork(net));
        Assert.That(e!.Message, Does.Contain("directly after a dense layer"));
    }

    [Test]
    public void AUserRegisteredKernelLayerIsUsed()
    {
        // y = c·x: K' = c²·K and Θ' = c²·Θ. With identity activations the network is linear, so
        // K₂ = σw²·c²·K₁ + σb² and Θ₂ = K₂ + σw²·c²·K₁.
        const double c = 1.7, w = 1.2, b = 0.3;
        var spec = (FcnSpec)ArchitectureSpec.Parse($"fcn:depth=1,width=4,act=identity,in=5,out=1,wstd={w},bstd={b}");
        using var net = new Network(spec,
        [
            new FlattenLayer(), new DenseLayer(5, 4, spec.Parameterization, w, b), new ScaleLayer(c),
            new DenseLayer(4, 1, spec.Parameterization, w, b),
        ]);
        var e = Assert.Throws<NotSupportedException>(() => AnalyticKernel.FromNetwork(net));
        Assert.That(e!.Message, Does.Contain(nameof(ScaleLayer)).And.Contain("KernelLayerRegistry.Register"));

        var layers = KernelLayerRegistry.CreateDefault().Register<ScaleLayer>((s, _) => new ScaleKernelLayer(s.Factor));
        var kernel = AnalyticKernel.FromNetwork(net, layers);
        Assert.That(kernel.Layers[1], Is.InstanceOf<ScaleKernelLayer>());
        var x = Inputs(4, 5);
        using var result = kernel.Compute(x);
        using var k1 = x.matmul(x.t()).div(5).mul(w * w).add(b * b);
        using var nngp = k1.mul(w * w * c * c).add(b * b);
        using var ntk = nngp.add(k1.mul(w * w * c * c));
        Assert.That((result.Nngp! - nngp).abs().max().item<double>(), Is.LessThan(1e-12));
        Assert.That((result.Ntk! - ntk).abs().max().item<double>(), Is.LessThan(1e-12));
    }

    private sealed class ScaleLayer(double factor) : nn.Module<Tensor, Tensor>("scale")
    {
        public double Factor { get; } = factor;

        public override Tensor forward(Tensor x) => x.mul(Factor);
    }

    private sealed class ScaleKernelLayer(double factor) : IKernelLayer
    {
        public string Name => $"scale({factor})";

        public KernelState Apply(KernelState state, KernelContext context) =>
            state with { Nngp = state.Nngp.mul_(factor * factor), Ntk = state.Ntk?.mul_(factor * factor) };
    }
}
