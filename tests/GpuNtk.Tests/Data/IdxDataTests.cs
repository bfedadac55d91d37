using System.Buffers.Binary;
using System.Net;
using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

/// <summary>IDX files, MNIST-style sets, their download and their preprocessing, on files written here.</summary>
public sealed class IdxDataTests
{
    private static readonly byte[] TrainLabels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
    private static readonly byte[] TestLabels = [5, 3, 5, 1, 0, 7];

    [TestCase(true)]
    [TestCase(false)]
    public void IdxRoundTripsPlainAndCompressed(bool gzip)
    {
        using var dir = new TempDirectory();
        using var images = IdxFileBuilder.Images(3);
        IdxFileBuilder.Write(dir["x"], images, gzip);
        using var read = IdxFile.Read(dir["x"], "remedy");
        Assert.That(read.dtype, Is.EqualTo(ScalarType.Byte));
        Assert.That(read.shape, Is.EqualTo(new long[] { 3, 28, 28 }));
        Assert.That(read.eq(images).all().item<bool>(), Is.True);
    }

    [Test]
    public void BigEndianMultiByteTypesAreDecoded()
    {
        using var dir = new TempDirectory();
        // int32 [2] = {1, −2} and float64 [1] = {0.5}, big-endian.
        var ints = new byte[4 + 4 + 8];
        ints[2] = 0x0C; ints[3] = 1;
        BinaryPrimitives.WriteInt32BigEndian(ints.AsSpan(4), 2);
        BinaryPrimitives.WriteInt32BigEndian(ints.AsSpan(8), 1);
        BinaryPrimitives.WriteInt32BigEndian(ints.AsSpan(12), -2);
        File.WriteAllBytes(dir["i"], ints);
        using var i = IdxFile.Read(dir["i"], "r");
        Assert.That(i.data<int>().ToArray(), Is.EqualTo(new[] { 1, -2 }));
        var doubles = new byte[4 + 4 + 8];
        doubles[2] = 0x0E; doubles[3] = 1;
        BinaryPrimitives.WriteInt32BigEndian(doubles.AsSpan(4), 1);
        BinaryPrimitives.WriteDoubleBigEndian(doubles.AsSpan(8), 0.5);
        File.WriteAllBytes(dir["d"], doubles);
        using var d = IdxFile.Read(dir["d"], "r");
        Assert.That(d.item<double>(), Is.EqualTo(0.5));
    }

    [Test]
    public void MalformedIdxFilesAreRefusedNamingTheFile()
    {
        using var dir = new TempDirectory();
        using var images = IdxFileBuilder.Images(2);
        var good = IdxFile.SerializeBytes(images);
        void Expect(string name, byte[] bytes, string fragment)
        {
            File.WriteAllBytes(dir[name], bytes);
            var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(dir[name], "the remedy"));
            Assert.That(e!.Message, Does.Contain(dir[name]).And.Contain(fragment).And.Contain("the remedy"), name);
        }
        Expect("truncated", good[..^5], "truncated");
        Expect("header-only", good[..6], "truncated");
        Expect("magic", [1, 2, 3, 4, 5, 6, 7, 8], "not an IDX file");
        Expect("type", [0, 0, 0x07, 1, 0, 0, 0, 1, 0], "type byte");
        var huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(4), 0xFFFF_FFFF);
        Expect("huge", huge, "corrupt");
        Expect("extra", [.. good, 1, 2], "more data");
        Expect("empty", [], "empty");
        File.WriteAllBytes(dir["badgz"], [0x1f, 0x8b, 8, 0, 1, 2, 3]);
        var z = Assert.Throws<InvalidDataException>(() => IdxFile.Read(dir["badgz"], "the remedy"));
        Assert.That(z!.Message, Does.Contain(dir["badgz"]));
    }

    [Test]
    public void ASymbolicLinkIsReadThroughToItsTarget()
    {
        using var dir = new TempDirectory();
        using var images = IdxFileBuilder.Images(2);
        IdxFileBuilder.Write(dir["target.idx"], images, gzip: false);
        File.CreateSymbolicLink(dir["link.idx"], dir["target.idx"]);
        using var read = IdxFile.Read(dir["link.idx"], "r");
        Assert.That(read.eq(images).all().item<bool>(), Is.True);
        Assert.That(DataFile.Length(dir["link.idx"]), Is.EqualTo(new FileInfo(dir["target.idx"]).Length));
        File.CreateSymbolicLink(dir["dangling"], dir["nowhere"]);
        Assert.That(() => DataFile.Length(dir["dangling"]), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("does not exist"));
    }

    [Test]
    public void AnMnistStyleSetLoadsAsOneChannelImagesWithClassNames()
    {
        using var root = new TempDirectory();
        IdxFileBuilder.WriteSet(IdxDataset.FashionMnist, Path.Combine(root.Path, "fashion-mnist"), TrainLabels, TestLabels);
        var options = new DataOptions(DataSource.FashionMnist, root.Path, Classes: DataOptions.ParseClasses("sandal,trouser", DataSource.FashionMnist),
            Flatten: false, Standardize: false);
        Assert.That(options.Classes, Is.EqualTo(new[] { 5, 1 }));
        using var data = DatasetLoader.Load(options, ScalarType.Float64, CPU);
        Assert.That(data.Train.Inputs.shape, Is.EqualTo(new long[] { 4, 1, 28, 28 }), "two examples each of classes 5 and 1");
        Assert.That(data.Test.Labels.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 0, 1 }), "5, 5, 1 renumbered in the order given");
        // Test example 0 is file record 0: pixel p = p mod 256, scaled to [0, 1].
        Assert.That(data.Test.Inputs[0, 0, 0, 3].item<double>(), Is.EqualTo(3 / 255.0).Within(1e-15));
        Assert.That(data.Describe(), Does.StartWith("Fashion-MNIST (" + Path.Combine(root.Path, "fashion-mnist")));
        using var flat = DatasetLoader.Load(options with { Flatten = true, Standardize = true }, 2, ScalarType.Float32, CPU);
        Assert.That(flat.Train.Inputs.shape, Is.EqualTo(new long[] { 4, 784 }));
        Assert.That(flat.ChannelMean, Has.Count.EqualTo(1));
    }

    [Test]
    public void MissingSetNamesTheFoldersAndTheRemedy()
    {
        using var root = new TempDirectory();
        var e = Assert.Throws<DirectoryNotFoundException>(() => DatasetLoader.Load(new DataOptions(DataSource.Mnist, root.Path), ScalarType.Float32, CPU));
        Assert.That(e!.Message, Does.Contain(Path.Combine(root.Path, "mnist")).And.Contain("gpuntk data mnist"));
        IdxFileBuilder.WriteSet(IdxDataset.Mnist, Path.Combine(root.Path, "mnist"), TrainLabels, [1, 2, 3], gzip: false);
        File.Delete(Path.Combine(root.Path, "mnist", "t10k-labels-idx1-ubyte"));
        Assert.That(() => DatasetLoader.Load(new DataOptions(DataSource.Mnist, root.Path), ScalarType.Float32, CPU), Throws.InstanceOf<DirectoryNotFoundException>());
    }

    [Test]
    public void MismatchedCountsAndBadLabelsAreRefused()
    {
        using var root = new TempDirectory();
        var dir = Path.Combine(root.Path, "mnist");
        IdxFileBuilder.WriteSet(IdxDataset.Mnist, dir, TrainLabels, TestLabels);
        using (var fewer = tensor(new byte[] { 1, 2 })) IdxFileBuilder.Write(Path.Combine(dir, IdxDataset.Mnist.TestLabels.Name), fewer, gzip: true);
        var e = Assert.Throws<InvalidDataException>(() => IdxImageReader.Read(IdxDataset.Mnist, dir));
        Assert.That(e!.Message, Does.Contain("2 labels").And.Contain("6 images"));
        using (var bad = tensor(new byte[] { 1, 2, 3, 4, 5, 12 })) IdxFileBuilder.Write(Path.Combine(dir, IdxDataset.Mnist.TestLabels.Name), bad, gzip: true);
        e = Assert.Throws<InvalidDataException>(() => IdxImageReader.Read(IdxDataset.Mnist, dir));
        Assert.That(e!.Message, Does.Contain("label 12").And.Contain("gpuntk data mnist"));
    }

    [Test]
    public void DownloadVerifiesEveryFileAndKeepsVerifiedOnes()
    {
        using var server = new TempDirectory();
        IdxFileBuilder.WriteSet(IdxDataset.Mnist, server.Path, TrainLabels, TestLabels);
        // The set as the test server publishes it: same names, the MD5s of these files.
        var set = IdxDataset.Mnist with
        {
            TrainImages = Published(server, IdxDataset.Mnist.TrainImages), TrainLabels = Published(server, IdxDataset.Mnist.TrainLabels),
            TestImages = Published(server, IdxDataset.Mnist.TestImages), TestLabels = Published(server, IdxDataset.Mnist.TestLabels),
        };
        var handler = new FolderHandler(server.Path);
        using var data = new TempDirectory();
        var target = new IdxDownload(handler: handler).EnsureAsync(set, data.Path, "http://mirror.test/").GetAwaiter().GetResult();
        Assert.That(target, Is.EqualTo(Path.Combine(data.Path, "mnist")));
        Assert.That(handler.Requests, Is.EqualTo(4));
        new IdxDownload(handler: handler).EnsureAsync(set, data.Path, "http://mirror.test/").GetAwaiter().GetResult();
        Assert.That(handler.Requests, Is.EqualTo(4), "verified files are not downloaded again");

        // A server that sends other bytes: refused, nothing left behind under the official name.
        var wrong = set with { TestLabels = set.TestLabels with { Md5 = "00000000000000000000000000000000" } };
        var e = Assert.Throws<InvalidDataException>(() => new IdxDownload(handler: handler).EnsureAsync(wrong, data.Path, "http://mirror.test/").GetAwaiter().GetResult());
        Assert.That(e!.Message, Does.Contain("expected 00000000000000000000000000000000"));
        Assert.That(File.Exists(Path.Combine(target, set.TestLabels.Name)), Is.False);
    }

    [Test]
    public void OfflineDownloadFailsFastNamingTheDebianPackage()
    {
        using var data = new TempDirectory();
        var e = Assert.Throws<IOException>(() => new IdxDownload().EnsureAsync(IdxDataset.FashionMnist, data.Path, "http://127.0.0.1:9/").GetAwaiter().GetResult());
        Assert.That(e!.Message, Does.Contain("could not download").And.Contain("dataset-fashion-mnist"));
    }

    [Test]
    public void OfficialChecksumsAreTheTorchvisionOnes()
    {
        // Pinned so an edit cannot silently weaken verification (values from torchvision's MNIST/FashionMNIST resources).
        Assert.That(IdxDataset.FashionMnist.TrainImages.Md5, Is.EqualTo("8d4fb7e6c68d591d4c3dfef9ec88bf0d"));
        Assert.That(IdxDataset.Mnist.TestLabels.Md5, Is.EqualTo("ec29112dd5afa0611ce80d1b7f02629c"));
        Assert.That(IdxDataset.FashionMnist.Files.Select(f => f.Md5).Distinct().Count(), Is.EqualTo(4));
    }

    private static IdxFileSource Published(TempDirectory server, IdxFileSource file) =>
        file with { Md5 = FileChecksum.Md5Hex(Path.Combine(server.Path, file.Name)) };

    /// <summary>Serves the files of a folder by name, counting requests: a real HTTP exchange without a network.</summary>
    private sealed class FolderHandler(string folder) : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            var path = Path.Combine(folder, Path.GetFileName(request.RequestUri!.AbsolutePath));
            return Task.FromResult(File.Exists(path)
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(File.ReadAllBytes(path)) }
                : new HttpResponseMessage(HttpStatusCode.NotFound));
        }
    }
}
