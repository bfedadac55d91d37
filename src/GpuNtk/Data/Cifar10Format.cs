namespace GpuNtk.Data;

/// <summary>
/// The CIFAR-10 binary format (https://www.cs.toronto.edu/~kriz/cifar.html): each file is a sequence of records of
/// one label byte (0–9) followed by 3,072 pixel bytes, the 32×32 red plane, then green, then blue (CHW, row-major).
/// The official set has five training files and one test file of 10,000 records each.
/// </summary>
public static class Cifar10Format
{
    public const int Channels = 3;
    public const int ImageSize = 32;
    public const int PixelBytes = Channels * ImageSize * ImageSize;
    public const int RecordBytes = 1 + PixelBytes;
    public const int Classes = 10;
    public const int OfficialRecordsPerFile = 10_000;

    /// <summary>The folder the official tarball extracts to.</summary>
    public const string DirectoryName = "cifar-10-batches-bin";

    public static readonly IReadOnlyList<string> TrainFiles =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    public const string TestFile = "test_batch.bin";

    /// <summary>Class names in label order, as in <c>batches.meta.txt</c>.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The file with one class name per line that accompanies the binary files.</summary>
    public const string MetaFile = "batches.meta.txt";
}
