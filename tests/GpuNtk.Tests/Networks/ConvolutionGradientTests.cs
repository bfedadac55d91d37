using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Networks;

/// <summary>
/// A float32 convolution on the CPU must give the float64 output and gradients (input, weight, bias). libtorch 2.10's
/// oneDNN gets the input gradient (and for C_in &gt; 16 not a multiple of 16 the output) wrong on NCHW tensors (see
/// <c>OneDnnSafeConv2d</c>); most of these shapes fail without the workaround, with 1 thread every time.
/// </summary>
public sealed class ConvolutionGradientTests
{
    // (C_in, C_out, k, stride, H, W, N): small and odd channel counts, 1×1, stride 2, non-square images.
    private static readonly (long Cin, long Cout, long K, long S, long H, long W, long N)[] Shapes =
    [
        (4, 4, 3, 1, 8, 8, 2), (3, 5, 3, 1, 7, 9, 5), (8, 3, 3, 2, 9, 6, 3), (16, 10, 1, 1, 5, 5, 4),
        (4, 17, 3, 1, 6, 6, 15), (1, 1, 5, 1, 8, 7, 2), (17, 16, 3, 1, 6, 6, 3), (5, 32, 1, 2, 8, 8, 2),
        (33, 32, 3, 2, 9, 9, 2), (3, 7, 5, 1, 6, 10, 3), (1, 4, 3, 2, 7, 7, 3), (64, 64, 3, 1, 8, 8, 16),
    ];

    [TestCase(1)]
    [TestCase(2)]
    public void Float32OutputAndGradientsEqualFloat64(int threads)
    {
        int before = get_num_threads();
        set_num_threads(threads);
        try
        {
            foreach (var s in Shapes)
                for (int repeat = 0; repeat < 2; repeat++)
                    Check(s, seed: (ulong)(11 + repeat));
        }
        finally { set_num_threads(before); }
    }

    private static void Check((long Cin, long Cout, long K, long S, long H, long W, long N) s, ulong seed)
    {
        using var scope = NewDisposeScope();
        using var layer64 = new Conv2dLayer(s.Cin, s.Cout, s.K, s.S, Parameterization.Ntk, 1.4, 0.3);
        using var layer32 = new Conv2dLayer(s.Cin, s.Cout, s.K, s.S, Parameterization.Ntk, 1.4, 0.3);
        using (var g = new Generator(seed)) layer64.Initialize(g);
        layer32.to(ScalarType.Float32);
        using (no_grad())
        {
            layer32.weight.copy_(layer64.weight);
            layer32.bias.copy_(layer64.bias);
        }
        using var gen = new Generator(seed + 100);
        var x = randn([s.N, s.Cin, s.H, s.W], ScalarType.Float64, generator: gen);
        var r64 = Run(layer64, x, out var cot);
        var r32 = Run(layer32, x.to(ScalarType.Float32), cot.to(ScalarType.Float32));
        string[] names = ["output", "∂/∂x", "∂/∂W", "∂/∂b"];
        for (int k = 0; k < names.Length; k++)
        {
            double err = (r32[k].to(ScalarType.Float64) - r64[k]).abs().max().item<double>() / r64[k].abs().max().item<double>();
            Assert.That(err, Is.LessThan(1e-5), $"{names[k]} for {s} (seed {seed}, {get_num_threads()} thread(s))");
        }
    }

    private static Tensor[] Run(Conv2dLayer layer, Tensor x, out Tensor cotangent)
    {
        var y = layer.call(x.detach().requires_grad_(true));
        using var g = new Generator(7);
        cotangent = randn(y.shape, ScalarType.Float64, generator: g);
        return Run(layer, x, cotangent);
    }

    private static Tensor[] Run(Conv2dLayer layer, Tensor x, Tensor cotangent)
    {
        var xx = x.detach().requires_grad_(true);
        var y = layer.call(xx);
        var grads = autograd.grad([y], [xx, layer.weight, layer.bias], [cotangent.to(y.dtype)]);
        return [y.detach(), grads[0], grads[1], grads[2]];
    }
}
