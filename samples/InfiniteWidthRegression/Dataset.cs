using GpuNtk.Data;
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
    /// CIFAR-10 (<c>&lt;root&gt;/cifar-10-batches-bin</c>) or the synthetic set in its format (<c>&lt;root&gt;/synthetic</c>,
    /// generated when absent) through the library's loader: seeded subsets, pixels in [0, 1], per-channel
    /// standardisation with training statistics, flattened to 3,072 features.
    /// </summary>
    public static Dataset Cifar(DataSource source, string root, int train, int test)
    {
        var options = new DataOptions(source, root, TrainSize: train, TestSize: test, Targets: TargetEncoding.Centered);
        using var data = DatasetLoader.Load(options, outputs: options.ClassCount, ScalarType.Float64, CPU);
        return new Dataset(data.Train.Inputs.clone(), data.Train.Labels.clone(), data.Test.Inputs.clone(), data.Test.Labels.clone(),
            options.ClassCount, $"{source.ToString().ToLowerInvariant()} ({options.Directory}): {data.Train.Count} train / {data.Test.Count} test, {options.ClassCount} classes");
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
