namespace GpuNtk.Data;

/// <summary>One file of an IDX data set: its official (gzip) name and the MD5 of the official download.</summary>
/// <param name="Name">The official file name, e.g. <c>train-images-idx3-ubyte.gz</c>; the uncompressed name (without <c>.gz</c>) is read too.</param>
/// <param name="Md5">MD5 (hex) of the official <c>.gz</c> file.</param>
public sealed record IdxFileSource(string Name, string Md5)
{
    /// <summary>The name without <c>.gz</c>.</summary>
    public string PlainName => Name.EndsWith(".gz", StringComparison.Ordinal) ? Name[..^3] : Name;
}

/// <summary>
/// An MNIST-style data set in IDX files: 28×28 grey images with labels 0–9, four files, an official download address
/// and, where a Linux distribution packages it, the folder the package installs.
/// </summary>
/// <param name="Name">The <c>--data</c> name, e.g. <c>fashion-mnist</c>.</param>
/// <param name="Title">Human-readable name.</param>
/// <param name="DirectoryName">The folder under the data folder.</param>
/// <param name="BaseUrl">The official download address of the four files (ends with '/').</param>
/// <param name="SystemDirectory">A folder a distribution package installs the files to (read when the data folder lacks them), or null.</param>
/// <param name="ClassNames">Class names in label order, as <c>--classes</c> accepts them.</param>
public sealed record IdxDataset(
    string Name,
    string Title,
    string DirectoryName,
    string BaseUrl,
    string? SystemDirectory,
    IReadOnlyList<string> ClassNames,
    IdxFileSource TrainImages,
    IdxFileSource TrainLabels,
    IdxFileSource TestImages,
    IdxFileSource TestLabels)
{
    public const int ImageSize = 28;

    /// <summary>LeCun, Cortes and Burges' handwritten digits, from the mirror torchvision uses.</summary>
    public static IdxDataset Mnist { get; } = new(
        "mnist", "MNIST", "mnist", "https://ossci-datasets.s3.amazonaws.com/mnist/", null,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
        new("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        new("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        new("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        new("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"));

    /// <summary>Zalando's Fashion-MNIST (Xiao, Rasul and Vollgraf 2017); Debian's <c>dataset-fashion-mnist</c> installs it.</summary>
    public static IdxDataset FashionMnist { get; } = new(
        "fashion-mnist", "Fashion-MNIST", "fashion-mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "/usr/share/datasets/fashion-mnist",
        ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"],
        new("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        new("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        new("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        new("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"));

    public IReadOnlyList<IdxFileSource> Files => [TrainImages, TrainLabels, TestImages, TestLabels];

    /// <summary>What to do when the files are missing or bad.</summary>
    public string Remedy =>
        $"run `gpuntk data {Name}` to download and verify the official files" +
        (SystemDirectory is null ? "" : Name == "fashion-mnist" ? $", or install Debian's dataset-fashion-mnist (files in {SystemDirectory})" : "");

    /// <summary>The path of <paramref name="file"/> in <paramref name="directory"/>: the <c>.gz</c> name, else the plain one, else null.</summary>
    public static string? Find(string directory, IdxFileSource file)
    {
        foreach (var name in new[] { file.Name, file.PlainName })
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>True when <paramref name="directory"/> holds all four files (plain or compressed).</summary>
    public bool HasAllFiles(string directory) => Directory.Exists(directory) && Files.All(f => Find(directory, f) is not null);

    /// <summary>
    /// The folder to read: <c>&lt;root&gt;/&lt;DirectoryName&gt;</c> when it holds the four files, else
    /// <see cref="SystemDirectory"/> when that does; otherwise throws naming both and the remedy.
    /// </summary>
    public string Locate(string root)
    {
        var local = Path.Combine(root, DirectoryName);
        if (HasAllFiles(local)) return local;
        if (SystemDirectory is { } system && HasAllFiles(system)) return system;
        throw new DirectoryNotFoundException($"{Title} is not in {local}" + (SystemDirectory is null ? "" : $" nor in {SystemDirectory}") +
                                             $" (it needs {string.Join(", ", Files.Select(f => f.Name))}): {Remedy}");
    }
}
