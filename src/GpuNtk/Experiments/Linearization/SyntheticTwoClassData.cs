using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// A small class-structured stand-in for a two-class image subset when no real data is at hand: each class has a
/// smooth random "image" template (low-frequency, like natural images' dominant components), an example is its
/// template plus white noise, inputs are normalized to ‖x‖ = √d, targets are ±1. Seeded; not CIFAR.
/// </summary>
public static class SyntheticTwoClassData
{
    public static SweepData Generate(int trainSize, int testSize, int channels, int imageSize, long seed, ScalarType dtype, Device device,
                                     double noise = 1.0)
    {
        if (trainSize < 1 || testSize < 1) throw new ArgumentException("train and test sizes must be ≥ 1");
        if (channels < 1 || imageSize < 2) throw new ArgumentException("need ≥ 1 channel and an image size ≥ 2");
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)seed);
        long d = (long)channels * imageSize * imageSize;
        // Low-frequency templates: a 4×4 random field upsampled bilinearly to the image size.
        var coarse = randn([2, channels, 4, 4], ScalarType.Float64, generator: g);
        var templates = nn.functional.interpolate(coarse, [imageSize, imageSize], mode: InterpolationMode.Bilinear, align_corners: true)
            .reshape(2, d);
        templates = templates.div(templates.square().sum(1, keepdim: true).sqrt()).mul_(Math.Sqrt(d));
        (Tensor X, Tensor Y) Draw(int n)
        {
            var labels = randint(0, 2, [n], ScalarType.Int64, generator: g);
            var x = templates.index_select(0, labels).add(randn([n, d], ScalarType.Float64, generator: g).mul_(noise));
            x = x.div(x.square().sum(1, keepdim: true).sqrt()).mul_(Math.Sqrt(d));
            var y = labels.to(ScalarType.Float64).mul(2).sub_(1).unsqueeze(1);
            return (x.to(dtype, device), y.to(dtype, device));
        }
        var (xTrain, yTrain) = Draw(trainSize);
        var (xTest, yTest) = Draw(testSize);
        return new SweepData(xTrain.MoveToOuterDisposeScope(), yTrain.MoveToOuterDisposeScope(), xTest.MoveToOuterDisposeScope(),
            yTest.MoveToOuterDisposeScope(),
            $"synthetic two-class images (not CIFAR): {trainSize} train / {testSize} test, {channels}×{imageSize}×{imageSize}, seed {seed}");
    }
}
