using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Loads <see cref="DataSource.Npy"/> data (<see cref="NpyDataFiles"/>): integer labels make a classification set
/// (classes 0…K−1, K = largest label + 1, or the class subset; targets encoded as for images), float labels a
/// regression set (targets <c>[N, O]</c> as given, no classes). Inputs are cast to the model's dtype, checked to be
/// finite and standardised (per channel for <c>[N, C, H, W]</c>, else one mean and deviation); <c>Flatten</c> makes
/// them <c>[N, D]</c>.
/// </summary>
public static class NpyDataset
{
    public static PreparedData Load(DataOptions options, long? outputs, ScalarType dtype, Device device)
    {
        var files = options.Npy!;
        using var scope = NewDisposeScope();
        var (x, y) = ReadPair(files.Inputs, files.Labels);
        bool regression = y.is_floating_point();
        Tensor xTrain, yTrain, xTest, yTest;
        if (files.TestInputs is { } ti)
        {
            (xTest, yTest) = ReadPair(ti, files.TestLabels!);
            if (!xTest.shape.Skip(1).SequenceEqual(x.shape.Skip(1)))
                throw new ArgumentException($"{ti}: test inputs have shape [{string.Join(", ", xTest.shape)}] but the training inputs " +
                                            $"[{string.Join(", ", x.shape)}]; every example must have the same shape");
            if (yTest.is_floating_point() != regression)
                throw new ArgumentException($"{files.TestLabels}: the test labels are {yTest.dtype} but the training labels {y.dtype}; both must be integer classes or both float targets");
            (xTrain, yTrain) = (x, y);
        }
        else
        {
            long n = x.shape[0];
            long hold = options.TestSize > 0 ? options.TestSize : Math.Max(1, n / 5);
            if (hold >= n)
                throw new ArgumentException($"{files.Inputs} has {n} examples, too few to hold out {hold} for testing; give test files or a smaller test size");
            using var g = new Generator((ulong)(options.Seed * 2 + 2));
            var order = randperm(n, generator: g);
            (xTest, yTest) = (x.index_select(0, order.narrow(0, 0, hold)), y.index_select(0, order.narrow(0, 0, hold)));
            (xTrain, yTrain) = (x.index_select(0, order.narrow(0, hold, n - hold)), y.index_select(0, order.narrow(0, hold, n - hold)));
        }

        string description = $"npy ({files.Inputs}, {files.Labels})";
        int classes = 0;
        if (!regression)
        {
            classes = options.Classes?.Length ?? (int)Math.Max(yTrain.max().item<long>(), yTest.numel() > 0 ? yTest.max().item<long>() : 0) + 1;
            var forSelection = options with { TestSize = files.TestInputs is null ? 0 : options.TestSize };
            (xTrain, yTrain) = DatasetLoader.Select(xTrain, yTrain, forSelection, options.TrainSize, options.Seed * 2 + 1, "training", description);
            (xTest, yTest) = DatasetLoader.Select(xTest, yTest, forSelection, forSelection.TestSize, options.Seed * 2 + 2, "test", description);
        }
        else
        {
            (xTrain, yTrain) = Subset(xTrain, yTrain, options.TrainSize, options.Seed * 2 + 1, files.Inputs);
            if (files.TestInputs is not null) (xTest, yTest) = Subset(xTest, yTest, options.TestSize, options.Seed * 2 + 2, files.TestInputs);
        }

        xTrain = xTrain.to(device).to(dtype);
        xTest = xTest.to(device).to(dtype);
        bool images = xTrain.dim() == 4;
        var (mean, std) = Standardization.Identity(images ? xTrain.shape[1] : 1);
        if (options.Standardize)
            (xTrain, xTest, mean, std) = images ? Standardization.PerChannel(xTrain, xTest, dtype) : Standardization.Global(xTrain, xTest, dtype);
        if (options.Flatten)
        {
            xTrain = xTrain.reshape(xTrain.shape[0], -1);
            xTest = xTest.reshape(xTest.shape[0], -1);
        }
        // Regression: the test targets must have the training targets' width.
        if (classes == 0) outputs ??= yTrain.shape[1];
        var train = Labelled(xTrain, yTrain.to(device), classes, outputs, options, dtype, files.Labels);
        var test = Labelled(xTest, yTest.to(device), classes, outputs, options, dtype, files.TestLabels ?? files.Labels);
        return new PreparedData(train, test, mean, std, options, description);
    }

    /// <summary>
    /// The outputs a network needs for this data: the class count (the subset's, else the largest label + 1) for
    /// integer labels, the targets' width for float labels. Reads only the labels file.
    /// </summary>
    public static long Outputs(DataOptions options)
    {
        var files = options.Npy ?? throw new ArgumentException("npy data needs its files (inputs X.npy and labels y.npy)");
        using var y = NpyFile.Read(files.Labels);
        if (y.is_floating_point()) return y.dim() == 2 ? y.shape[1] : 1;
        if (options.Classes is { } c) return c.Length;
        return y.numel() == 0 ? 0 : y.max().item<long>() + 1;
    }

    private static (Tensor X, Tensor Y) ReadPair(string inputsPath, string labelsPath)
    {
        var x = NpyFile.Read(inputsPath);
        var y = NpyFile.Read(labelsPath);
        if (x.dim() < 2)
            throw new ArgumentException($"{inputsPath}: inputs have shape [{string.Join(", ", x.shape)}]; they must be [N, …] with one example per row");
        if (x.dtype == ScalarType.Bool) x = x.to(ScalarType.Byte);
        if (y.dim() is < 1 or > 2 || y.shape[0] != x.shape[0])
            throw new ArgumentException($"{labelsPath}: labels have shape [{string.Join(", ", y.shape)}] but {inputsPath} has {x.shape[0]} examples; " +
                                        "labels must be [N] (integer classes or float targets) or [N, O] (float targets)");
        if (x.is_floating_point() && !isfinite(x).all().item<bool>())
            throw new ArgumentException($"{inputsPath} contains NaN or infinite values; clean the data (e.g. numpy.nan_to_num) before training");
        if (y.is_floating_point())
        {
            if (!isfinite(y).all().item<bool>()) throw new ArgumentException($"{labelsPath} contains NaN or infinite targets; clean them before training");
            return (x, y.dim() == 1 ? y.unsqueeze(1) : y);
        }
        if (y.dim() != 1)
            throw new ArgumentException($"{labelsPath}: integer labels must be [N] class indices, not [{string.Join(", ", y.shape)}]; save float targets for regression");
        y = y.to(ScalarType.Int64);
        if (y.numel() > 0 && y.min().item<long>() < 0)
            throw new ArgumentException($"{labelsPath} has a negative label {y.min().item<long>()}; classes must be 0…K−1");
        return (x, y);
    }

    private static (Tensor, Tensor) Subset(Tensor x, Tensor y, int size, long seed, string path)
    {
        long n = x.shape[0];
        if (size > n) throw new ArgumentException($"asked for {size} examples but {path} has {n}; use {n} or fewer");
        if (size == 0 || size == n) return (x, y);
        using var g = new Generator((ulong)seed);
        var pick = randperm(n, generator: g).narrow(0, 0, size);
        return (x.index_select(0, pick), y.index_select(0, pick));
    }

    private static LabeledData Labelled(Tensor x, Tensor y, int classes, long? outputs, DataOptions options, ScalarType dtype, string labelsPath)
    {
        if (classes == 0)
        {
            if (outputs is { } o && o != y.shape[1])
                throw new ArgumentException($"{labelsPath} holds {y.shape[1]} target(s) per example but the network has {o} output(s); use out={y.shape[1]}");
            return new LabeledData(x.contiguous().MoveToOuterDisposeScope(), zeros(y.shape[0], ScalarType.Int64, device: y.device).MoveToOuterDisposeScope(),
                y.to(dtype).contiguous().MoveToOuterDisposeScope(), 0);
        }
        if (y.numel() > 0 && y.max().item<long>() >= classes)
            throw new ArgumentException($"{labelsPath} has label {y.max().item<long>()} but the training labels define {classes} classes (0–{classes - 1})");
        var targets = Targets.Encode(y, classes, outputs ?? classes, options.Targets, dtype);
        return new LabeledData(x.contiguous().MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope(), classes);
    }
}
