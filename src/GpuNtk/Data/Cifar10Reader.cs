using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Reads files in the CIFAR-10 binary format (<see cref="Cifar10Format"/>), validating every file: a missing,
/// empty, truncated or corrupt file (a size that is not a whole number of records, an unexpected record count, a label
/// outside 0–9) throws an exception that names the file and how to fix it.
/// </summary>
public static class Cifar10Reader
{
    /// <summary>The fix suggested for the official set.</summary>
    public const string OfficialRemedy = "delete it and run `gpuntk data cifar10` to download and verify the official set again";

    /// <summary>Reads the five training files of <paramref name="directory"/>, concatenated in order.</summary>
    /// <param name="recordsPerFile">When set (10,000 for the official set), every file must hold exactly this many records.</param>
    /// <param name="remedy">What the error messages tell the user to do about a bad file.</param>
    public static Cifar10Images ReadTrain(string directory, int? recordsPerFile = null, string remedy = OfficialRemedy) =>
        ReadFiles(directory, Cifar10Format.TrainFiles, recordsPerFile, remedy);

    /// <summary>Reads <c>test_batch.bin</c> of <paramref name="directory"/>.</summary>
    public static Cifar10Images ReadTest(string directory, int? recordsPerFile = null, string remedy = OfficialRemedy) =>
        ReadFiles(directory, [Cifar10Format.TestFile], recordsPerFile, remedy);

    /// <summary>Reads one file.</summary>
    public static Cifar10Images ReadFile(string path, int? records = null, string remedy = OfficialRemedy) =>
        ReadFiles(Path.GetDirectoryName(Path.GetFullPath(path))!, [Path.GetFileName(path)], records, remedy);

    /// <summary>True when <paramref name="directory"/> holds every file of the set (their contents are not checked).</summary>
    public static bool HasAllFiles(string directory) =>
        Directory.Exists(directory) && Cifar10Format.TrainFiles.Append(Cifar10Format.TestFile).All(f => File.Exists(Path.Combine(directory, f)));

    private static Cifar10Images ReadFiles(string directory, IReadOnlyList<string> names, int? recordsPerFile, string remedy)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: no such folder; it should hold the CIFAR-10 binary files ({string.Join(", ", names)}): {remedy}");
        var paths = names.Select(n => Path.Combine(directory, n)).ToArray();
        var counts = new long[paths.Length];
        for (int i = 0; i < paths.Length; i++) counts[i] = RecordCount(paths[i], recordsPerFile, remedy);
        long total = counts.Sum();
        if (total * Cifar10Format.PixelBytes > Array.MaxLength)
            throw new InvalidDataException($"{directory}: {total} records are more than one array can hold; split the set");

        var labels = new byte[total];
        var pixels = new byte[total * Cifar10Format.PixelBytes];
        long offset = 0;
        for (int i = 0; i < paths.Length; i++)
        {
            var bytes = File.ReadAllBytes(paths[i]);
            if (bytes.LongLength != counts[i] * Cifar10Format.RecordBytes)
                throw new InvalidDataException($"{paths[i]} changed size while being read; {remedy}");
            for (long r = 0; r < counts[i]; r++)
            {
                int start = checked((int)(r * Cifar10Format.RecordBytes));
                byte label = bytes[start];
                if (label >= Cifar10Format.Classes)
                    throw new InvalidDataException($"{paths[i]}: record {r} (byte offset {start}) has label {label}, outside 0–9: the file is corrupt " +
                                                   $"or not the binary version of CIFAR-10 (the Python and MATLAB versions differ); {remedy}");
                labels[offset + r] = label;
                Buffer.BlockCopy(bytes, start + 1, pixels, checked((int)((offset + r) * Cifar10Format.PixelBytes)), Cifar10Format.PixelBytes);
            }
            offset += counts[i];
        }
        var pixelTensor = tensor(pixels, [total, Cifar10Format.Channels, Cifar10Format.ImageSize, Cifar10Format.ImageSize]);
        using var labelBytes = tensor(labels, [total]);
        return new Cifar10Images(pixelTensor, labelBytes.to(ScalarType.Int64));
    }

    private static long RecordCount(string path, int? expected, string remedy)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing (a CIFAR-10 binary set has {string.Join(", ", Cifar10Format.TrainFiles)} and " +
                                            $"{Cifar10Format.TestFile}); {remedy}", path);
        long length = DataFile.Length(path);
        if (length == 0) throw new InvalidDataException($"{path} is empty; {remedy}");
        if (length % Cifar10Format.RecordBytes != 0)
            throw new InvalidDataException($"{path} has {length:N0} bytes, not a whole number of {Cifar10Format.RecordBytes}-byte records " +
                                           $"(1 label + {Cifar10Format.PixelBytes} pixels): it is truncated or not in the CIFAR-10 binary format; {remedy}");
        long count = length / Cifar10Format.RecordBytes;
        if (expected is { } n && count != n)
            throw new InvalidDataException($"{path} holds {count:N0} records where {n:N0} are expected: the file is truncated or from another set; {remedy}");
        return count;
    }
}
