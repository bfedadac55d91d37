using GpuNtk.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Samples.InfiniteWidthRegression;

/// <summary>Train/test features (float64, standardised per feature with train statistics) and integer labels.</summary>
internal sealed record Dataset(Tensor XTrain, Tensor YTrain, Tensor XTest, Tensor YTest, int Classes, string Description) : IDisposable
{
    public void Dispose()
    {
        XTrain.Dispose();
        YTrain.Dispose();
        XTest.Dispose();
        YTest.Dispose();
    }

    /// <summary>
    /// CIFAR-format class-structured data: 10 classes, 3,072 features (3×32×32). Each class has a smooth random
    /// "template" image; an example is its class template times a random contrast, plus a shared random background and
    /// pixel noise, so that classes overlap and the task is not linearly trivial.
    /// </summary>
    /// <param name="signal">Template amplitude relative to the pixel noise; 0.2 makes the classes overlap.</param>
    public static Dataset Synthetic(int train, int test, double signal, long seed = 7)
    {
        const int classes = 10, channels = 3, size = 32;
        using var g = new Generator((ulong)seed);
        // Smooth templates: low-resolution noise upsampled to 32×32.
        var coarse = randn([classes, channels, 4, 4], ScalarType.Float64, generator: g);
        var templates = nn.functional.interpolate(coarse, [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
        var backgroundBasis = nn.functional.interpolate(randn([8, channels, 4, 4], ScalarType.Float64, generator: g), [size, size],
            mode: InterpolationMode.Bilinear, align_corners: false);

        (Tensor X, Tensor Y) Draw(int n)
        {
            var labels = randint(0, classes, [n], dtype: ScalarType.Int64, generator: g);
            var contrast = rand([n, 1, 1, 1], ScalarType.Float64, generator: g).mul_(0.6).add_(0.4);
            var background = einsum("nk,kchw->nchw", randn([n, 8], ScalarType.Float64, generator: g), backgroundBasis);
            var noise = randn([n, channels, size, size], ScalarType.Float64, generator: g).mul_(1.2);
            var x = templates.index_select(0, labels).mul(contrast.mul(signal)).add_(background).add_(noise);
            return (x.reshape(n, -1), labels);
        }

        var (xTrain, yTrain) = Draw(train);
        var (xTest, yTest) = Draw(test);
        return Standardised(xTrain, yTrain, xTest, yTest, classes,
            $"synthetic CIFAR-format data (10 classes, 3×32×32, signal {signal}, seed {seed}): {train} train / {test} test");
    }

    /// <summary>Reads x_train.npy, y_train.npy, x_test.npy, y_test.npy from <paramref name="directory"/>.</summary>
    public static Dataset FromNpy(string directory, int train, int test)
    {
        Tensor Read(string name)
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found; --data DIR needs x_train.npy, y_train.npy, x_test.npy and y_test.npy", path);
            return NpyFile.Read(path);
        }
        var xTrain = Read("x_train.npy").to(ScalarType.Float64);
        var yTrain = Read("y_train.npy").to(ScalarType.Int64).reshape(-1);
        var xTest = Read("x_test.npy").to(ScalarType.Float64);
        var yTest = Read("y_test.npy").to(ScalarType.Int64).reshape(-1);
        long nTrain = Math.Min(train, xTrain.shape[0]), nTest = Math.Min(test, xTest.shape[0]);
        int classes = (int)Math.Max(yTrain.max().item<long>(), yTest.max().item<long>()) + 1;
        return Standardised(xTrain.narrow(0, 0, nTrain).reshape(nTrain, -1), yTrain.narrow(0, 0, nTrain),
            xTest.narrow(0, 0, nTest).reshape(nTest, -1), yTest.narrow(0, 0, nTest), classes,
            $"{directory}: {nTrain} train / {nTest} test, {classes} classes");
    }

    private static Dataset Standardised(Tensor xTrain, Tensor yTrain, Tensor xTest, Tensor yTest, int classes, string description)
    {
        var mean = xTrain.mean([0L], keepdim: true);
        var std = xTrain.std(0, keepdim: true).clamp_min(1e-12);
        return new Dataset((xTrain - mean) / std, yTrain, (xTest - mean) / std, yTest, classes, description);
    }
}
