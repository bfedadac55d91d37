using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>
/// The convolution rule's two contractions (pixel pairs, weight gradients), each forced on every conv layer, against
/// the reference on odd shapes: stride 2, 1×1, C_in ≠ C_out, a single input channel, non-square images, pooling and
/// a frozen weight — full, traced and diagonal, X2 = X1 and X2 ≠ X1, float64 and float32.
/// </summary>
public sealed class ConvRuleTests
{
    private const long Outputs = 3;

    /// <summary>[N, C_in, 7, 10] → conv 3×3 stride 2 → 1×1 → conv 3×3 → 2×2 average pool → dense.</summary>
    private static nn.Module<Tensor, Tensor> OddConvNet(long cin, ScalarType dtype, bool freezeMiddleWeight = false)
    {
        var c1 = new Conv2dLayer(cin, 5, 3, 2, Parameterization.Ntk, 1.4, 0.3);   // 7×10 → 4×5
        var c2 = new Conv2dLayer(5, 4, 1, 1, Parameterization.Ntk, 1.2, 0.2);     // 1×1, C_in ≠ C_out
        var c3 = new Conv2dLayer(4, 6, 3, 1, Parameterization.Standard, 1, 0);    // 4×5
        var dense = new DenseLayer(6 * 2 * 2, Outputs, Parameterization.Ntk, 1.3, 0.1);
        var model = nn.Sequential(("c1", c1), ("a1", new ActivationLayer(Activation.Relu)), ("c2", c2),
            ("a2", new ActivationLayer(Activation.Erf)), ("c3", c3), ("a3", new ActivationLayer(Activation.Relu)),
            ("pool", new AveragePoolLayer(2)), ("flat", new FlattenLayer()), ("dense", dense));
        using var g = new Generator(5);
        foreach (var l in new IParameterizedLayer[] { c1, c2, c3, dense }) l.Initialize(g);
        using (no_grad()) c3.weight.mul_(0.3); // standard parameterization: keep the scale sane
        if (freezeMiddleWeight) c2.weight.requires_grad_(false);
        model.to(dtype);
        return model;
    }

    private static Tensor Images(long n, long cin, ulong seed, ScalarType dtype)
    {
        using var g = new Generator(seed);
        return randn([n, cin, 7, 10], ScalarType.Float64, generator: g).to(dtype);
    }

    /// <summary>Θ as LayerwiseNtk assembles it, but with every conv layer's contraction forced.</summary>
    private static Tensor Forced(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2, NtkOutput output, bool pixelPairs,
        long budget = 1 << 20)
    {
        var plan = ModelPlan.Build(model, x1);
        using var a = SignalCapture.Run(plan, x1);
        using var b = x2 is null ? null : SignalCapture.Run(plan, x2);
        var columns = b ?? a;
        using var acc = new NtkAccumulator(output, a.Count, columns.Count, Outputs, x1.dtype, x1.device, budget);
        foreach (var calls1 in a.ByModule)
        {
            var calls2 = columns.ByModule.Single(cs => ReferenceEquals(cs[0].Module, calls1[0].Module));
            foreach (var c1 in calls1)
            foreach (var c2 in calls2)
            {
                var rule = c1.Module switch
                {
                    Conv2dLayer conv => new Conv2dNtkRule(conv, pixelPairs, chunkBytes: budget),
                    TorchSharp.Modules.Conv2d conv => new Conv2dNtkRule(ConvGeometry.TryOf(conv)!, pixelPairs, chunkBytes: budget),
                    _ => c1.Rule,
                };
                if (rule.TryAccumulate(c1, c2, acc)) continue;
                Assert.That(rule is not Conv2dNtkRule || !pixelPairs, "a forced pixel-pair rule must accumulate");
                acc.AddJacobians(rule.Jacobian(c1, 0, rule.Slices(c1)), rule.Jacobian(c2, 0, rule.Slices(c2)));
            }
        }
        return acc.Result();
    }

    [TestCase(true, ScalarType.Float64, 3, 1 << 20)]
    [TestCase(true, ScalarType.Float64, 3, 1)] // a budget of one byte: one row example at a time
    [TestCase(false, ScalarType.Float64, 3, 1 << 20)]
    [TestCase(false, ScalarType.Float64, 3, 1)] // one example's patches at a time
    [TestCase(true, ScalarType.Float64, 1, 1 << 20)]
    [TestCase(true, ScalarType.Float32, 2, 1 << 20)]
    [TestCase(false, ScalarType.Float32, 2, 1 << 20)]
    public void BothContractionsMatchTheReference(bool pixelPairs, ScalarType dtype, long cin, long budget)
    {
        using var scope = NewDisposeScope();
        double tolerance = dtype == ScalarType.Float64 ? 1e-11 : 1e-4;
        using var model64 = OddConvNet(cin, ScalarType.Float64);
        using var model = OddConvNet(cin, dtype);
        var x1 = Images(5, cin, 1, ScalarType.Float64);
        var x2 = Images(3, cin, 2, ScalarType.Float64);
        foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace, NtkOutput.DiagonalFull, NtkOutput.DiagonalTrace })
        {
            var expected = ReferenceNtk.Compute(model64, x1, null, output);
            Assert.That(RelativeError(Forced(model, x1.to(dtype), null, output, pixelPairs, budget), expected), Is.LessThan(tolerance),
                $"{output}, X2 = X1");
            if (output is NtkOutput.Full or NtkOutput.Trace)
                Assert.That(RelativeError(Forced(model, x1.to(dtype), x2.to(dtype), output, pixelPairs, budget), ReferenceNtk.Compute(model64, x1, x2, output)),
                    Is.LessThan(tolerance), $"{output}, X2 ≠ X1");
        }
    }

    [Test]
    public void FrozenWeightLeavesOnlyTheBiasTerm()
    {
        using var scope = NewDisposeScope();
        using var model = OddConvNet(3, ScalarType.Float64, freezeMiddleWeight: true);
        var x = Images(4, 3, 3, ScalarType.Float64);
        foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace, NtkOutput.DiagonalFull })
            Assert.That(RelativeError(Forced(model, x, null, output, pixelPairs: true), ReferenceNtk.Compute(model, x, null, output)),
                Is.LessThan(1e-11), output.ToString());
    }

    /// <summary>End to end, with the cost model choosing per layer, on the built-in networks and the odd one.</summary>
    [TestCase(Cnn)]
    [TestCase(Wrn)]
    [TestCase("wrn:depth=10,k=2,size=4,out=5")]
    public void AutomaticChoiceMatchesTheReference(string arch)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(arch, seed: 3, ScalarType.Float64);
        var x = Inputs(net, 4, seed: 9);
        foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace })
            Assert.That(RelativeError(EmpiricalNtk.Compute(net, x, null, new NtkOptions(output, NtkImplementation.Structured)),
                ReferenceNtk.Compute(net, x, null, output)), Is.LessThan(1e-11), output.ToString());
    }

    /// <summary>TorchSharp's own nn.Conv2d (non-square kernel and stride, padding (1, 0), no bias) takes the same rule.</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void TorchSharpConvolutionsTakeTheRuleAndMatchTheReference(bool pixelPairs)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var model = nn.Sequential(
            ("c1", nn.Conv2d(2, 5, (3, 2), stride: (2, 1), padding: (1, 0), dtype: ScalarType.Float64)),
            ("a1", nn.Tanh()),
            ("c2", nn.Conv2d(5, 4, 1, bias: false, dtype: ScalarType.Float64)),
            ("flat", nn.Flatten()),
            ("fc", nn.Linear(4 * 4 * 9, Outputs, dtype: ScalarType.Float64)));
        var x1 = Images(4, 2, 1, ScalarType.Float64);
        var x2 = Images(3, 2, 2, ScalarType.Float64);
        var plan = ModelPlan.Build(model, x1);
        using (var calls = SignalCapture.Run(plan, x1))
            Assert.That(calls.ByModule.Count(cs => cs[0].Rule is Conv2dNtkRule), Is.EqualTo(2), "both convolutions take the convolution rule");
        foreach (var output in new[] { NtkOutput.Full, NtkOutput.Trace, NtkOutput.DiagonalFull })
            Assert.That(RelativeError(Forced(model, x1, null, output, pixelPairs), ReferenceNtk.Compute(model, x1, null, output)),
                Is.LessThan(1e-11), $"{output}");
        Assert.That(RelativeError(Forced(model, x1, x2, NtkOutput.Full, pixelPairs), ReferenceNtk.Compute(model, x1, x2, NtkOutput.Full)), Is.LessThan(1e-11));
        Assert.That(RelativeError(EmpiricalNtk.Compute(model, x1, x2, new NtkOptions(NtkOutput.Trace, NtkImplementation.Structured)),
            ReferenceNtk.Compute(model, x1, x2, NtkOutput.Trace)), Is.LessThan(1e-11));
        // Dilated or grouped convolutions are not ordinary: the generic rule serves them.
        Assert.That(ConvGeometry.TryOf(nn.Conv2d(4, 4, 3, dilation: 2)), Is.Null);
        Assert.That(ConvGeometry.TryOf(nn.Conv2d(4, 4, 3, groups: 2)), Is.Null);
    }

    [Test]
    public void CostModelPrefersPixelPairsOnlyForSmallImagesWithManyChannels()
    {
        // WRN-16-4's last group (8×8, 256 channels, D = 2304) against its first (32×32, 64 channels, D = 576).
        var late = new ConvNtkCost(16, 16, 10, 64, 2304, 256, SameCall: true, NtkOutput.Full, 4);
        var early = new ConvNtkCost(16, 16, 10, 1024, 576, 64, SameCall: true, NtkOutput.Full, 4);
        Assert.That(late.PixelPairsWin, Is.True, $"late: {late.PixelPairCost:e2} vs {late.WeightGradientCost:e2}");
        Assert.That(early.PixelPairsWin, Is.False, $"early: {early.PixelPairCost:e2} vs {early.WeightGradientCost:e2}");
    }

    [Test]
    public void FullPixelPairContractionKeepsItsIntermediatesWithinTheChunk()
    {
        // The Myrtle CNN's 8×8 layer (64 channels, D = 576) in an off-diagonal 22×22 block of a full N = 64 kernel: the
        // cost model picks pixel pairs there (the weight gradients of both tiles would have to be formed). Contracted
        // over all 22 rows at once, its 79 MB T was fresh pages on every call and took 3× as long as jc's contraction.
        var cost = new ConvNtkCost(22, 22, 10, 64, 576, 64, SameCall: false, NtkOutput.Full, 4);
        Assert.That(cost.PixelPairsWin, Is.True, $"{cost.PixelPairCost:e2} vs {cost.WeightGradientCost:e2}");
        long chunk = Conv2dNtkRule.DefaultChunkBytes, perPair = 4 * (64 * 64 + 2 * 10 * 64 * 64);
        var (rows, columns) = Conv2dNtkRule.PixelPairChunk(22, 22, 10, 64, 64, 4, NtkOutput.Full, chunk);
        Assert.That(columns, Is.EqualTo(22), "one GEMM per column example over the whole column tile");
        Assert.That(rows, Is.InRange(1, 21));
        Assert.That(rows * columns * perPair, Is.LessThanOrEqualTo(chunk));
        Assert.That((rows + 1) * columns * perPair, Is.GreaterThan(chunk), "as many rows as fit");
        // WRN-16-4's last group (8×8, 256 channels) at N = 16: fewer pairs than a column tile fit.
        var (wrnRows, wrnColumns) = Conv2dNtkRule.PixelPairChunk(16, 16, 10, 256, 64, 4, NtkOutput.Full, chunk);
        Assert.That(wrnRows * wrnColumns * 4 * (64 * 64 + 2 * 10 * 256 * 64), Is.LessThanOrEqualTo(chunk));
        Assert.That((wrnRows, wrnColumns), Is.EqualTo((1L, 12L)));
        Assert.That(Conv2dNtkRule.PixelPairChunk(22, 22, 10, 64, 64, 4, NtkOutput.DiagonalFull, chunk).Columns, Is.EqualTo(1));
        Assert.That(Conv2dNtkRule.PixelPairChunk(22, 22, 10, 64, 64, 4, NtkOutput.Full, 1), Is.EqualTo((1L, 1L)), "at least one pair");
    }
}
