using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Reads a CIFAR-format set and preprocesses it on the device: class subset (labels renumbered in the given order),
/// seeded subsets of the requested sizes, pixels scaled to [0, 1], per-channel standardisation with training
/// statistics, optional flattening, targets. Nothing is ever downloaded here; a missing synthetic set is generated.
/// </summary>
public static class DatasetLoader
{
    public static PreparedData Load(DataOptions options, long outputs, ScalarType dtype, Device device, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        logger ??= NullLogger.Instance;
        var dir = options.Directory;
        Cifar10Images train, test;
        if (options.Source == DataSource.Cifar10)
        {
            if (!Directory.Exists(dir))
                throw new DirectoryNotFoundException($"CIFAR-10 is not in {dir}: run `gpuntk data cifar10` to download it (170 MB, verified), " +
                                                     "or use --data synthetic");
            train = Cifar10Reader.ReadTrain(dir, Cifar10Format.OfficialRecordsPerFile);
            test = Cifar10Reader.ReadTest(dir, Cifar10Format.OfficialRecordsPerFile);
        }
        else
        {
            if (!Cifar10Reader.HasAllFiles(dir))
            {
                logger.LogInformation("generating the synthetic CIFAR-format set in {Directory} (seed 0)", dir);
                SyntheticCifar10.Write(dir);
            }
            train = Cifar10Reader.ReadTrain(dir, remedy: SyntheticCifar10.Remedy);
            test = Cifar10Reader.ReadTest(dir, remedy: SyntheticCifar10.Remedy);
        }
        using (train)
        using (test)
            return Prepare(train, test, options, outputs, dtype, device);
    }

    /// <summary>Preprocesses already-read images (see the class summary).</summary>
    public static PreparedData Prepare(Cifar10Images train, Cifar10Images test, DataOptions options, long outputs, ScalarType dtype, Device device)
    {
        options.Validate();
        int k = options.ClassCount;
        Targets.CheckOutputs(k, outputs, options.Targets);
        using var scope = NewDisposeScope();
        var (trainPixels, trainLabels) = Select(train, options, options.TrainSize, options.Seed * 2 + 1, "training");
        var (testPixels, testLabels) = Select(test, options, options.TestSize, options.Seed * 2 + 2, "test");

        var xTrain = trainPixels.to(device).to(dtype).div_(255);
        var xTest = testPixels.to(device).to(dtype).div_(255);
        var mean = new double[Cifar10Format.Channels];
        var std = Enumerable.Repeat(1.0, Cifar10Format.Channels).ToArray();
        if (options.Standardize)
        {
            var x64 = xTrain.to(ScalarType.Float64);
            var m = x64.mean([0L, 2L, 3L], keepdim: true);
            var s = x64.std([0L, 2L, 3L], keepdim: true, unbiased: false).clamp_min(1e-12);
            xTrain = x64.sub(m).div_(s).to(dtype);
            xTest = xTest.to(ScalarType.Float64).sub_(m).div_(s).to(dtype);
            mean = m.cpu().data<double>().ToArray();
            std = s.cpu().data<double>().ToArray();
        }
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
        return new PreparedData(trainSet, testSet, mean, std, options);
    }

    /// <summary>Keeps the selected classes (renumbered), then a seeded random subset of <paramref name="size"/> (0: all, in file order).</summary>
    private static (Tensor Pixels, Tensor Labels) Select(Cifar10Images images, DataOptions options, int size, long seed, string split)
    {
        var pixels = images.Pixels;
        var labels = images.Labels;
        if (options.Classes is { } classes)
        {
            var map = full(Cifar10Format.Classes, -1L, ScalarType.Int64);
            for (int i = 0; i < classes.Length; i++) map[classes[i]] = i;
            var mapped = map.index_select(0, labels);
            var keep = nonzero(mapped.ge(0)).view(-1);
            pixels = pixels.index_select(0, keep);
            labels = mapped.index_select(0, keep);
        }
        long available = labels.shape[0];
        if (size > available)
            throw new ArgumentException($"asked for {size} {split} examples but the selected classes have {available} in {options.Directory}; " +
                                        $"use --{(split == "training" ? "train" : "test")}-size {available} or fewer");
        if (size > 0 && size < available)
        {
            using var g = new Generator((ulong)seed);
            var pick = randperm(available, generator: g).narrow(0, 0, size);
            pixels = pixels.index_select(0, pick);
            labels = labels.index_select(0, pick);
        }
        return (pixels, labels);
    }
}
