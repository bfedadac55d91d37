using GpuNtk.Training;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>Schedules, Adam/AdamW, clipping and augmentation against independent computations.</summary>
public sealed class TrainingOptionsTests
{
    [Test]
    public void SchedulesFollowTheirFormulas()
    {
        Assert.That(LearningRateSchedule.Parse("constant").At(7, 10), Is.EqualTo(1));
        var warmup = LearningRateSchedule.Parse("warmup:4");
        Assert.That(Enumerable.Range(0, 6).Select(s => warmup.At(s, 10)), Is.EqualTo(new[] { 0.25, 0.5, 0.75, 1, 1, 1 }));
        var cosine = LearningRateSchedule.Parse("cosine:warmup=2");
        Assert.That(cosine.At(1, 12), Is.EqualTo(1));
        Assert.That(cosine.At(2, 12), Is.EqualTo(1));
        Assert.That(cosine.At(7, 12), Is.EqualTo(0.5).Within(1e-15), "halfway through the decay");
        var step = LearningRateSchedule.Parse("step:every=3,factor=0.1");
        Assert.That(new[] { step.At(2, 10), step.At(3, 10), step.At(6, 10) }, Is.EqualTo(new[] { 1, 0.1, 0.1 * 0.1 }).Within(1e-15));
        var e = Assert.Throws<ArgumentException>(() => LearningRateSchedule.Parse("cosine:every=3"));
        Assert.That(e!.Message, Does.Contain("Schedule").And.Contain("step:every=S,factor=F"));
    }

    [TestCase(false, 0.0)]
    [TestCase(false, 0.1)]
    [TestCase(true, 0.1)]
    public void AdamStepsEqualTorchSharpsOptimizer(bool decoupled, double weightDecay)
    {
        using var g = new Generator(3);
        var a = randn([5, 3], ScalarType.Float64, generator: g);
        var b = randn([5], ScalarType.Float64, generator: g);
        var theta0 = randn([3], ScalarType.Float64, generator: g);
        using var ours = new Parameter(theta0.clone());
        using var theirs = new Parameter(theta0.clone());
        using var adam = new AdamOptimizer([ours], weightDecay, decoupled);
        using optim.Optimizer reference = decoupled ? optim.AdamW([theirs], 0.05, weight_decay: weightDecay) : optim.Adam([theirs], 0.05, weight_decay: weightDecay);
        for (int step = 0; step < 5; step++)
        {
            foreach (var p in new[] { ours, theirs })
            {
                p.grad = null;
                a.matmul(p).sub(b).pow(3).sum().backward();
            }
            adam.Step(0.05);
            reference.step();
        }
        Assert.That(ours.detach().sub(theirs.detach()).abs().max().item<double>(), Is.LessThan(1e-12));
        Assert.That(ours.detach().sub(theta0).abs().max().item<double>(), Is.GreaterThan(0.1), "the parameters moved");
    }

    [Test]
    public void ClippingScalesTheTotalGradientNormDownOnly()
    {
        using var p = new Parameter(zeros(2, ScalarType.Float64));
        using var q = new Parameter(zeros(1, ScalarType.Float64));
        p.grad = tensor(new double[] { 3, 0 });
        q.grad = tensor(new double[] { 4 });
        GradientClipping.ClipTotalNorm([p, q], 2.5);
        Assert.That(p.grad.data<double>().ToArray(), Is.EqualTo(new[] { 1.5, 0 }).Within(1e-6));
        Assert.That(q.grad.data<double>().ToArray(), Is.EqualTo(new[] { 2.0 }).Within(1e-6));
        double before = q.grad.item<double>();
        GradientClipping.ClipTotalNorm([p, q], 10);
        Assert.That(q.grad.item<double>(), Is.EqualTo(before), "below the limit: unchanged");
    }

    [Test]
    public void AugmentationIsAPaddedCropOrItsMirrorAndRepeatsFromItsSavedState()
    {
        using var x = arange(2 * 3 * 5 * 5, ScalarType.Float64).reshape(2, 3, 5, 5).add(1);
        using var augmentation = new ImageAugmentation(seed: 9);
        var state = augmentation.SaveState().ToDictionary(s => s.Name, s => s.Value.clone());
        using var y = augmentation.Apply(x);
        Assert.That(y.shape, Is.EqualTo(x.shape));
        using var padded = nn.functional.pad(x, [4, 4, 4, 4]);
        for (int i = 0; i < 2; i++)
        {
            bool found = false;
            for (int dy = 0; dy <= 8 && !found; dy++)
                for (int dx = 0; dx <= 8 && !found; dx++)
                {
                    var crop = padded[i].narrow(1, dy, 5).narrow(2, dx, 5);
                    found = Same(y[i], crop) || Same(y[i], crop.flip(2));
                }
            Assert.That(found, Is.True, $"image {i} is no crop of the padded image");
        }
        augmentation.LoadState(state);
        using var again = augmentation.Apply(x);
        Assert.That(Same(again, y), Is.True, "the same draw after restoring the state");
        Assert.Throws<ArgumentException>(() => ImageAugmentation.CheckImages(zeros(4, 10)));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
