using System.IO.Compression;
using GpuNtk.Data;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

/// <summary>Writes small MNIST-format sets (IDX files, plain or gzip) with known contents.</summary>
internal static class IdxFileBuilder
{
    /// <summary>Image r has pixel p = (r·7 + p) mod 256; labels as given.</summary>
    public static Tensor Images(int count)
    {
        var bytes = new byte[count * 28 * 28];
        for (int r = 0; r < count; r++)
            for (int p = 0; p < 784; p++) bytes[r * 784 + p] = (byte)((r * 7 + p) % 256);
        return tensor(bytes, [count, 28, 28]);
    }

    public static void Write(string path, Tensor data, bool gzip)
    {
        var bytes = IdxFile.SerializeBytes(data);
        if (!gzip)
        {
            File.WriteAllBytes(path, bytes);
            return;
        }
        using var file = File.Create(path);
        using var z = new GZipStream(file, CompressionLevel.Fastest);
        z.Write(bytes);
    }

    /// <summary>A complete set of <paramref name="set"/>'s four files in <paramref name="directory"/>.</summary>
    public static void WriteSet(IdxDataset set, string directory, byte[] trainLabels, byte[] testLabels, bool gzip = true)
    {
        Directory.CreateDirectory(directory);
        string Name(IdxFileSource f) => Path.Combine(directory, gzip ? f.Name : f.PlainName);
        using var trainImages = Images(trainLabels.Length);
        using var testImages = Images(testLabels.Length);
        using var trainY = tensor(trainLabels);
        using var testY = tensor(testLabels);
        Write(Name(set.TrainImages), trainImages, gzip);
        Write(Name(set.TrainLabels), trainY, gzip);
        Write(Name(set.TestImages), testImages, gzip);
        Write(Name(set.TestLabels), testY, gzip);
    }
}
