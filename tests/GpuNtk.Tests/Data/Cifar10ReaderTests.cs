using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

public sealed class Cifar10ReaderTests
{
    [Test]
    public void ReadsLabelsAndChwPixels()
    {
        using var dir = new TempDirectory();
        var path = dir["one.bin"];
        File.WriteAllBytes(path, Cifar10FileBuilder.Records(3, 9, 0));
        using var images = Cifar10Reader.ReadFile(path, records: 3);
        Assert.That(images.Count, Is.EqualTo(3));
        Assert.That(images.Labels.data<long>().ToArray(), Is.EqualTo(new long[] { 3, 9, 0 }));
        Assert.That(images.Pixels.shape, Is.EqualTo(new long[] { 3, 3, 32, 32 }));
        Assert.That(images.Pixels.dtype, Is.EqualTo(ScalarType.Byte));
        // Record 1, green plane (channel 1), row 2, column 5 is pixel byte 1024 + 2·32 + 5 of that record.
        int p = 1024 + 2 * 32 + 5;
        Assert.That(images.Pixels[1, 1, 2, 5].item<byte>(), Is.EqualTo((byte)((1 * 7 + p) % 256)));
    }

    [Test]
    public void TrainingSetConcatenatesTheFiveFilesInOrder()
    {
        using var dir = new TempDirectory();
        Cifar10FileBuilder.WriteSet(dir.Path, 4);
        // Make file 3's first label distinctive.
        var third = dir[Cifar10Format.TrainFiles[2]];
        var bytes = File.ReadAllBytes(third);
        bytes[0] = 7;
        File.WriteAllBytes(third, bytes);
        using var train = Cifar10Reader.ReadTrain(dir.Path, recordsPerFile: 4);
        using var test = Cifar10Reader.ReadTest(dir.Path, recordsPerFile: 4);
        Assert.That(train.Count, Is.EqualTo(20));
        Assert.That(test.Count, Is.EqualTo(4));
        Assert.That(train.Labels[8].item<long>(), Is.EqualTo(7));
        Assert.That(train.Labels[9].item<long>(), Is.EqualTo(1));
    }

    [Test]
    public void MissingFileNamesTheFileAndTheFix()
    {
        using var dir = new TempDirectory();
        Cifar10FileBuilder.WriteSet(dir.Path, 2);
        File.Delete(dir["data_batch_4.bin"]);
        var e = Assert.Throws<FileNotFoundException>(() => Cifar10Reader.ReadTrain(dir.Path));
        Assert.That(e!.Message, Does.Contain("data_batch_4.bin").And.Contain("gpuntk data cifar10"));
    }

    [Test]
    public void MissingFolderSaysHowToGetTheData()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => Cifar10Reader.ReadTest("/nonexistent/cifar"));
        Assert.That(e!.Message, Does.Contain("/nonexistent/cifar").And.Contain("gpuntk data cifar10"));
    }

    [Test]
    public void TruncatedFileIsRejected()
    {
        using var dir = new TempDirectory();
        var bytes = Cifar10FileBuilder.Records(1, 2, 3);
        File.WriteAllBytes(dir["cut.bin"], bytes.AsSpan(0, bytes.Length - 100).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadFile(dir["cut.bin"]));
        Assert.That(e!.Message, Does.Contain("cut.bin").And.Contain("not a whole number of 3073-byte records"));
    }

    [Test]
    public void FileCutAtARecordBoundaryFailsTheOfficialCount()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir["short.bin"], Cifar10FileBuilder.Records(1, 2));
        var e = Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadFile(dir["short.bin"], Cifar10Format.OfficialRecordsPerFile));
        Assert.That(e!.Message, Does.Contain("short.bin").And.Contain("2 records where 10,000 are expected"));
    }

    [Test]
    public void CorruptLabelIsRejected()
    {
        using var dir = new TempDirectory();
        var bytes = Cifar10FileBuilder.Records(1, 2, 3);
        bytes[2 * Cifar10Format.RecordBytes] = 200;
        File.WriteAllBytes(dir["bad.bin"], bytes);
        var e = Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadFile(dir["bad.bin"]));
        Assert.That(e!.Message, Does.Contain("bad.bin").And.Contain("record 2").And.Contain("label 200"));
    }

    [Test]
    public void EmptyFileIsRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir["empty.bin"], []);
        var e = Assert.Throws<InvalidDataException>(() => Cifar10Reader.ReadFile(dir["empty.bin"]));
        Assert.That(e!.Message, Does.Contain("empty.bin is empty"));
    }
}
