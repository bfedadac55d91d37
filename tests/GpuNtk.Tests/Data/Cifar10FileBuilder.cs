using GpuNtk.Data;

namespace GpuNtk.Tests.Data;

/// <summary>Writes CIFAR-10-format files byte by byte, independently of the library's generator.</summary>
internal static class Cifar10FileBuilder
{
    /// <summary>Record r has label labels[r] and pixel p = (r·7 + p) mod 256.</summary>
    public static byte[] Records(params byte[] labels)
    {
        var bytes = new byte[labels.Length * Cifar10Format.RecordBytes];
        for (int r = 0; r < labels.Length; r++)
        {
            bytes[r * Cifar10Format.RecordBytes] = labels[r];
            for (int p = 0; p < Cifar10Format.PixelBytes; p++) bytes[r * Cifar10Format.RecordBytes + 1 + p] = (byte)((r * 7 + p) % 256);
        }
        return bytes;
    }

    /// <summary>A complete set: five training files and a test file of <paramref name="perFile"/> records, labels cycling 0–9.</summary>
    public static void WriteSet(string directory, int perFile)
    {
        Directory.CreateDirectory(directory);
        foreach (var name in Cifar10Format.TrainFiles.Append(Cifar10Format.TestFile))
            File.WriteAllBytes(Path.Combine(directory, name), Records(Enumerable.Range(0, perFile).Select(i => (byte)(i % 10)).ToArray()));
    }
}
