namespace GpuNtk.Data;

/// <summary>Which data set.</summary>
public enum DataSource
{
    /// <summary>The official CIFAR-10 binary set in <c>&lt;Root&gt;/cifar-10-batches-bin</c>.</summary>
    Cifar10,
    /// <summary>The synthetic set in CIFAR-10's binary format in <c>&lt;Root&gt;/synthetic</c> (generated when absent).</summary>
    Synthetic,
    /// <summary>MNIST IDX files in <c>&lt;Root&gt;/mnist</c>.</summary>
    Mnist,
    /// <summary>Fashion-MNIST IDX files in <c>&lt;Root&gt;/fashion-mnist</c>, else Debian's <c>/usr/share/datasets/fashion-mnist</c>.</summary>
    FashionMnist,
    /// <summary>Any tensors in <c>.npy</c> files (<see cref="NpyDataFiles"/>).</summary>
    Npy,
}

/// <summary>
/// A data set in <c>.npy</c> files: inputs <c>[N, …]</c> of any shape and numeric dtype, and labels <c>[N]</c> of an
/// integer dtype (classes 0…K−1) or float targets <c>[N]</c> / <c>[N, O]</c> (regression). Without a test pair, a seeded
/// hold-out of the training pair is the test set.
/// </summary>
public sealed record NpyDataFiles(string Inputs, string Labels, string? TestInputs = null, string? TestLabels = null)
{
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Inputs) || string.IsNullOrWhiteSpace(Labels))
            throw new ArgumentException("npy data needs both an inputs file (X.npy) and a labels file (y.npy)");
        if ((TestInputs is null) != (TestLabels is null))
            throw new ArgumentException("npy data: give both test files (inputs and labels) or neither");
    }
}

/// <summary>What to load and how to preprocess it.</summary>
/// <param name="Source">The data set.</param>
/// <param name="Root">The data folder.</param>
/// <param name="Classes">Class subset in the order that defines the new labels 0…K−1 (e.g. [3, 5] for cat vs dog); null: all.</param>
/// <param name="TrainSize">Training examples, drawn with the seed from the selected classes; 0: all.</param>
/// <param name="TestSize">Test examples, likewise; 0: all (for npy data without test files: the size of the hold-out, 0 = one fifth).</param>
/// <param name="Targets">Target encoding of class labels for regression losses.</param>
/// <param name="Standardize">Images: subtract the per-channel mean and divide by the per-channel standard deviation of the
/// training examples; other npy inputs: one mean and standard deviation over all training values.</param>
/// <param name="Flatten">Inputs <c>[N, C·H·W]</c> (true) or images <c>[N, C, H, W]</c>.</param>
/// <param name="Seed">Seed of the subset draws.</param>
/// <param name="Npy">The files of <see cref="DataSource.Npy"/>.</param>
public sealed record DataOptions(
    DataSource Source = DataSource.Synthetic,
    string Root = "data",
    int[]? Classes = null,
    int TrainSize = 0,
    int TestSize = 0,
    TargetEncoding Targets = TargetEncoding.Centered,
    bool Standardize = true,
    bool Flatten = true,
    long Seed = 0,
    NpyDataFiles? Npy = null)
{
    /// <summary>Number of classes after the subset; 0 for npy data without a subset (known once loaded).</summary>
    public int ClassCount => Classes?.Length ?? (Source == DataSource.Npy ? 0 : 10);

    /// <summary>The shape of one example before flattening ([3, 32, 32], [1, 28, 28]); null for npy data (known once loaded).</summary>
    public long[]? ExampleShape => Source switch
    {
        DataSource.Cifar10 or DataSource.Synthetic => [Cifar10Format.Channels, Cifar10Format.ImageSize, Cifar10Format.ImageSize],
        DataSource.Mnist or DataSource.FashionMnist => [1, IdxDataset.ImageSize, IdxDataset.ImageSize],
        _ => null,
    };

    /// <summary>The IDX set of an MNIST-style source, else null.</summary>
    public IdxDataset? Idx => Source switch
    {
        DataSource.Mnist => IdxDataset.Mnist,
        DataSource.FashionMnist => IdxDataset.FashionMnist,
        _ => null,
    };

    /// <summary>The folder holding the files of <see cref="Source"/> under <see cref="Root"/> (the inputs' folder for npy data).</summary>
    public string Directory => Source switch
    {
        DataSource.Cifar10 => Path.Combine(Root, Cifar10Format.DirectoryName),
        DataSource.Synthetic => Path.Combine(Root, SyntheticCifar10.DirectoryName),
        DataSource.Npy => Path.GetDirectoryName(Path.GetFullPath(Npy?.Inputs ?? ".")) ?? ".",
        _ => Path.Combine(Root, Idx!.DirectoryName),
    };

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Root)) throw new ArgumentException("the data folder is empty");
        if (TrainSize < 0 || TestSize < 0) throw new ArgumentException("the train and test sizes must be ≥ 0 (0 means all)");
        if (Source == DataSource.Npy)
        {
            if (Npy is null) throw new ArgumentException("npy data needs its files (inputs X.npy and labels y.npy)");
            Npy.Validate();
        }
        if (Classes is { } c)
        {
            if (c.Length < 2) throw new ArgumentException("the class subset needs at least two classes");
            int available = Source == DataSource.Npy ? int.MaxValue : 10;
            if (c.Any(k => k < 0 || k >= available)) throw new ArgumentException($"classes {string.Join(",", c)}: classes are 0–{available - 1}");
            if (c.Distinct().Count() != c.Length) throw new ArgumentException($"classes {string.Join(",", c)}: a class is repeated");
        }
    }

    /// <summary>Class names of <paramref name="source"/> in label order (numbers for npy data).</summary>
    public static IReadOnlyList<string> ClassNames(DataSource source) => source switch
    {
        DataSource.Mnist => IdxDataset.Mnist.ClassNames,
        DataSource.FashionMnist => IdxDataset.FashionMnist.ClassNames,
        DataSource.Npy => [],
        _ => Cifar10Format.ClassNames,
    };

    /// <summary>Parses "3,5" or class names of <paramref name="source"/> ("cat,dog", "sandal,sneaker") into class indices.</summary>
    public static int[] ParseClasses(string text, DataSource source = DataSource.Cifar10)
    {
        var names = ClassNames(source);
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
            throw new ArgumentException($"classes '{text}': give at least two, as numbers or names ({string.Join(", ", names)})");
        return parts.Select(part =>
        {
            if (int.TryParse(part, out int k)) return k;
            int i = names.ToList().IndexOf(part.ToLowerInvariant());
            return i >= 0 ? i : throw new ArgumentException($"classes: '{part}' is neither a class number nor one of {string.Join(", ", names)}");
        }).ToArray();
    }

    /// <summary>Parses a data set name: cifar10, synthetic, mnist, fashion-mnist or npy.</summary>
    public static DataSource ParseSource(string text) => text.Trim().ToLowerInvariant() switch
    {
        "cifar10" or "cifar-10" or "cifar" => DataSource.Cifar10,
        "synthetic" or "synth" => DataSource.Synthetic,
        "mnist" => DataSource.Mnist,
        "fashion-mnist" or "fashion_mnist" or "fashionmnist" or "fmnist" => DataSource.FashionMnist,
        "npy" => DataSource.Npy,
        _ => throw new ArgumentException($"data set '{text}': use cifar10, synthetic, mnist, fashion-mnist or npy"),
    };

    /// <summary>The name <see cref="ParseSource"/> reads.</summary>
    public static string SourceName(DataSource source) => source switch
    {
        DataSource.Cifar10 => "cifar10",
        DataSource.Synthetic => "synthetic",
        DataSource.Mnist => "mnist",
        DataSource.FashionMnist => "fashion-mnist",
        _ => "npy",
    };
}
