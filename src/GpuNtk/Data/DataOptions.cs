namespace GpuNtk.Data;

/// <summary>Which data set: the official CIFAR-10 binary set or the synthetic one in its format.</summary>
public enum DataSource
{
    Cifar10,
    Synthetic,
}

/// <summary>What to load and how to preprocess it.</summary>
/// <param name="Source">CIFAR-10 (from <c>&lt;Root&gt;/cifar-10-batches-bin</c>) or synthetic (<c>&lt;Root&gt;/synthetic</c>, generated when absent).</param>
/// <param name="Root">The data folder.</param>
/// <param name="Classes">Class subset in the order that defines the new labels 0…K−1 (e.g. [3, 5] for cat vs dog); null: all ten.</param>
/// <param name="TrainSize">Training examples, drawn with the seed from the selected classes; 0: all.</param>
/// <param name="TestSize">Test examples, likewise; 0: all.</param>
/// <param name="Targets">Target encoding for regression losses.</param>
/// <param name="Standardize">Subtract the per-channel mean and divide by the per-channel standard deviation of the training examples.</param>
/// <param name="Flatten">Inputs <c>[N, 3072]</c> (true) or images <c>[N, 3, 32, 32]</c>.</param>
/// <param name="Seed">Seed of the subset draws.</param>
public sealed record DataOptions(
    DataSource Source = DataSource.Synthetic,
    string Root = "data",
    int[]? Classes = null,
    int TrainSize = 0,
    int TestSize = 0,
    TargetEncoding Targets = TargetEncoding.Centered,
    bool Standardize = true,
    bool Flatten = true,
    long Seed = 0)
{
    /// <summary>Number of classes after the subset.</summary>
    public int ClassCount => Classes?.Length ?? Cifar10Format.Classes;

    /// <summary>The folder holding the binary files of <see cref="Source"/>.</summary>
    public string Directory => Path.Combine(Root, Source == DataSource.Cifar10 ? Cifar10Format.DirectoryName : SyntheticCifar10.DirectoryName);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Root)) throw new ArgumentException("the data folder is empty");
        if (TrainSize < 0 || TestSize < 0) throw new ArgumentException("--train-size and --test-size must be ≥ 0 (0 means all)");
        if (Classes is { } c)
        {
            if (c.Length < 2) throw new ArgumentException("--classes needs at least two classes");
            if (c.Any(k => k is < 0 or >= Cifar10Format.Classes)) throw new ArgumentException($"--classes {string.Join(",", c)}: classes are 0–9");
            if (c.Distinct().Count() != c.Length) throw new ArgumentException($"--classes {string.Join(",", c)}: a class is repeated");
        }
    }

    /// <summary>Parses "3,5" or "cat,dog" (CIFAR-10 class names) into class indices.</summary>
    public static int[] ParseClasses(string text)
    {
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(part =>
        {
            if (int.TryParse(part, out int k)) return k;
            int i = Cifar10Format.ClassNames.ToList().IndexOf(part.ToLowerInvariant());
            return i >= 0 ? i : throw new ArgumentException($"--classes: '{part}' is neither 0–9 nor one of {string.Join(", ", Cifar10Format.ClassNames)}");
        }).ToArray();
    }

    public static DataSource ParseSource(string text) => text.Trim().ToLowerInvariant() switch
    {
        "cifar10" or "cifar-10" or "cifar" => DataSource.Cifar10,
        "synthetic" or "synth" => DataSource.Synthetic,
        _ => throw new ArgumentException($"--data {text}: use cifar10 or synthetic"),
    };
}
