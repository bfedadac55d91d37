using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Reads a data set (<see cref="DataSource"/>) and preprocesses it on the device: class subset (labels renumbered in
/// the given order), seeded subsets of the requested sizes, pixels scaled to [0, 1], standardisation with training
/// statistics, optional flattening, targets. Shapes follow the data: CIFAR-format images are <c>[3, 32, 32]</c>,
/// MNIST-style ones <c>[1, 28, 28]</c>, npy inputs whatever the file holds. Nothing is ever downloaded here; a missing
/// synthetic set is generated.
/// </summary>
public static class DatasetLoader
{
    /// <summary>Loads with targets for a network of <paramref name="outputs"/> outputs.</summary>
    public static PreparedData Load(DataOptions options, long outputs, ScalarType dtype, Device device, ILogger? logger = null) =>
        Load(options, (long?)outputs, dtype, device, logger);

    /// <summary>Loads with as many outputs as the data needs (the class count, or the regression targets' width).</summary>
    public static PreparedData Load(DataOptions options, ScalarType dtype, Device device, ILogger? logger = null) =>
        Load(options, null, dtype, device, logger);

    private static PreparedData Load(DataOptions options, long? outputs, ScalarType dtype, Device device, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        logger ??= NullLogger.Instance;
        if (options.Source == DataSource.Npy) return NpyDataset.Load(options, outputs, dtype, device);
        var (train, test, description) = ReadImages(options, logger);
        using (train)
        using (test)
            return Prepare(train, test, options, outputs ?? options.ClassCount, dtype, device, description);
    }

    /// <summary>Reads the raw training and test images of an image source and says where they came from.</summary>
    public static (ImageSet Train, ImageSet Test, string Description) ReadImages(DataOptions options, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        var dir = options.Directory;
        switch (options.Source)
        {
            case DataSource.Cifar10:
                if (!System.IO.Directory.Exists(dir))
                    throw new DirectoryNotFoundException($"CIFAR-10 is not in {dir}: run `gpuntk data cifar10` to download it (170 MB, verified), " +
                                                         "or use --data synthetic");
                return (Cifar10Reader.ReadTrain(dir, Cifar10Format.OfficialRecordsPerFile).ToImageSet(),
                        Cifar10Reader.ReadTest(dir, Cifar10Format.OfficialRecordsPerFile).ToImageSet(), $"CIFAR-10 ({dir})");
            case DataSource.Synthetic:
                if (!Cifar10Reader.HasAllFiles(dir))
                {
                    logger.LogInformation("generating the synthetic CIFAR-format set in {Directory} (seed 0)", dir);
                    SyntheticCifar10.Write(dir);
                }
                return (Cifar10Reader.ReadTrain(dir, remedy: SyntheticCifar10.Remedy).ToImageSet(),
                        Cifar10Reader.ReadTest(dir, remedy: SyntheticCifar10.Remedy).ToImageSet(), $"synthetic CIFAR-format ({dir})");
            case DataSource.Mnist or DataSource.FashionMnist:
                var set = options.Idx!;
                var folder = set.Locate(options.Root);
                var (train, test) = IdxImageReader.Read(set, folder);
                return (train, test, $"{set.Title} ({folder})");
            default:
                throw new ArgumentException($"{options.Source} is not an image data set");
        }
    }

    /// <summary>Preprocesses already-read CIFAR-format images (see the class summary).</summary>
    public static PreparedData Prepare(Cifar10Images train, Cifar10Images test, DataOptions options, long outputs, ScalarType dtype, Device device)
    {
        using var trainSet = new ImageSet(train.Pixels.alias(), train.Labels.alias());
        using var testSet = new ImageSet(test.Pixels.alias(), test.Labels.alias());
        return Prepare(trainSet, testSet, options, outputs, dtype, device, $"{options.Source} ({options.Directory})");
    }

    /// <summary>Preprocesses already-read images (see the class summary).</summary>
    public static PreparedData Prepare(ImageSet train, ImageSet test, DataOptions options, long outputs, ScalarType dtype, Device device, string description)
    {
        options.Validate();
        int k = options.ClassCount;
        Targets.CheckOutputs(k, outputs, options.Targets);
        using var scope = NewDisposeScope();
        var (trainPixels, trainLabels) = Select(train.Pixels, train.Labels, options, options.TrainSize, options.Seed * 2 + 1, "training", description);
        var (testPixels, testLabels) = Select(test.Pixels, test.Labels, options, options.TestSize, options.Seed * 2 + 2, "test", description);

        var xTrain = trainPixels.to(device).to(dtype).div_(255);
        var xTest = testPixels.to(device).to(dtype).div_(255);
        var (mean, std) = Standardization.Identity(xTrain.shape[1]);
        if (options.Standardize) (xTrain, xTest, mean, std) = Standardization.PerChannel(xTrain, xTest, dtype);
        if (options.Flatten)
        {
            xTrain = xTrain.reshape(xTrain.shape[0], -1);
            xTest = xTest.reshape(xTest.shape[0], -1);
        }
        var yTrain = trainLabels.to(device);
        var yTest = testLabels.to(device);
        var trainSet = new LabeledData(xTrain.contiguous().MoveToOuterDisposeScope(), yTrain.MoveToOuterDisposeScope(),
            Targets.Encode(yTrain, k, outputs, options.Targets, dtype).MoveToOuterDisposeScope(), k);
        var testSet = new LabeledData(xTest.contiguous().MoveToOuterDisposeScope(), yTest.MoveToOuterDisposeScope(),
            Targets.Encode(yTest, k, outputs, options.Targets, dtype).MoveToOuterDisposeScope(), k);
        return new PreparedData(trainSet, testSet, mean, std, options, description);
    }

    /// <summary>Keeps the selected classes (renumbered), then a seeded random subset of <paramref name="size"/> (0: all, in file order).</summary>
    internal static (Tensor Examples, Tensor Labels) Select(Tensor examples, Tensor labels, DataOptions options, int size, long seed, string split,
        string description)
    {
        if (options.Classes is { } classes)
        {
            long known = Math.Max(labels.numel() == 0 ? 0 : labels.max().item<long>() + 1, classes.Max() + 1);
            var map = full(known, -1L, ScalarType.Int64, device: labels.device);
            for (int i = 0; i < classes.Length; i++) map[classes[i]] = i;
            var mapped = map.index_select(0, labels);
            var keep = nonzero(mapped.ge(0)).view(-1);
            examples = examples.index_select(0, keep);
            labels = mapped.index_select(0, keep);
        }
        long available = labels.shape[0];
        if (size > available)
            throw new ArgumentException($"asked for {size} {split} examples but the selected classes have {available} in {description}; " +
                                        $"use a {(split == "training" ? "train" : "test")} size of {available} or fewer");
        if (size > 0 && size < available)
        {
            using var g = new Generator((ulong)seed);
            var pick = randperm(available, generator: g).to(labels.device).narrow(0, 0, size);
            examples = examples.index_select(0, pick);
            labels = labels.index_select(0, pick);
        }
        return (examples, labels);
    }
}
