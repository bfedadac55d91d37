using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using GpuNtk.Data;
using NUnit.Framework;

namespace GpuNtk.Tests.Data;

/// <summary>Checksum, extraction and offline behaviour of the CIFAR-10 download, without any network access.</summary>
public sealed class DownloadTests
{
    // Port 9 (discard) on the loopback interface: nothing listens, the connection is refused at once.
    private const string Unreachable = "http://127.0.0.1:9/cifar-10-binary.tar.gz";

    [Test]
    public void Md5OfAKnownString()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir["abc.txt"], "abc");
        Assert.That(FileChecksum.Md5Hex(dir["abc.txt"]), Is.EqualTo("900150983cd24fb0d6963f7d28e17f72"));
        Assert.DoesNotThrow(() => FileChecksum.Verify(dir["abc.txt"], "900150983CD24FB0D6963F7D28E17F72", 3));
    }

    [Test]
    public void VerifyRejectsWrongSizeAndWrongDigest()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir["abc.txt"], "abc");
        var size = Assert.Throws<InvalidDataException>(() => FileChecksum.Verify(dir["abc.txt"], "900150983cd24fb0d6963f7d28e17f72", 4));
        Assert.That(size!.Message, Does.Contain("has 3 bytes, expected 4"));
        var md5 = Assert.Throws<InvalidDataException>(() => FileChecksum.Verify(dir["abc.txt"], "00000000000000000000000000000000", 3));
        Assert.That(md5!.Message, Does.Contain("MD5 900150983cd24fb0d6963f7d28e17f72").And.Contain("expected 00000000000000000000000000000000"));
    }

    [Test]
    public void VerifiedLocalTarballIsExtractedWithoutDownloading()
    {
        using var dir = new TempDirectory();
        var source = WriteTarball(dir.Path, perFile: 3);
        var target = new Cifar10Download().EnsureAsync(dir.Path, source).GetAwaiter().GetResult();
        Assert.That(target, Is.EqualTo(Path.Combine(dir.Path, Cifar10Format.DirectoryName)));
        using var test = Cifar10Reader.ReadTest(target, recordsPerFile: 3);
        Assert.That(test.Labels.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 2 }));
        // A second call finds the complete set and does nothing (the unreachable URL is never needed).
        Assert.DoesNotThrow(() => new Cifar10Download().EnsureAsync(dir.Path, source).GetAwaiter().GetResult());
    }

    [Test]
    public void OfflineFailsFastWithAClearMessage()
    {
        using var dir = new TempDirectory();
        var source = new Cifar10Source(Unreachable, "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171);
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<IOException>(() => new Cifar10Download().EnsureAsync(dir.Path, source).GetAwaiter().GetResult());
        Assert.That(watch.Elapsed.TotalSeconds, Is.LessThan(20));
        Assert.That(e!.Message, Does.Contain("could not download").And.Contain("cifar-10-binary.tar.gz").And.Contain("--data synthetic"));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty, "no partial file is left behind");
    }

    [Test]
    public void CorruptLocalTarballIsDiscardedThenTheDownloadIsTried()
    {
        using var dir = new TempDirectory();
        var source = WriteTarball(dir.Path, perFile: 2);
        var archive = Path.Combine(dir.Path, source.ArchiveName);
        var bytes = File.ReadAllBytes(archive);
        bytes[^5] ^= 0xFF;
        File.WriteAllBytes(archive, bytes);
        var e = Assert.Throws<IOException>(() => new Cifar10Download().EnsureAsync(dir.Path, source).GetAwaiter().GetResult());
        Assert.That(e!.Message, Does.Contain("could not download"));
        Assert.That(File.Exists(archive), Is.False, "the corrupt archive was removed");
    }

    [Test]
    public void ArchiveEntriesEscapingTheDestinationAreRefused()
    {
        using var dir = new TempDirectory();
        var archive = dir["evil.tar.gz"];
        using (var file = File.Create(archive))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "../escape.txt") { DataStream = new MemoryStream([1, 2, 3]) };
            tar.WriteEntry(entry);
        }
        var e = Assert.Throws<InvalidDataException>(() => TarGzExtractor.Extract(archive, dir["out"]));
        Assert.That(e!.Message, Does.Contain("outside the destination"));
        Assert.That(File.Exists(dir["escape.txt"]), Is.False);
    }

    /// <summary>A small tarball laid out like the official one, and a source that expects exactly its size and MD5.</summary>
    private static Cifar10Source WriteTarball(string dataDir, int perFile)
    {
        using var staging = new TempDirectory();
        Cifar10FileBuilder.WriteSet(Path.Combine(staging.Path, Cifar10Format.DirectoryName), perFile);
        var archive = Path.Combine(dataDir, "cifar-10-binary.tar.gz");
        using (var file = File.Create(archive))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            TarFile.CreateFromDirectory(Path.Combine(staging.Path, Cifar10Format.DirectoryName), gzip, includeBaseDirectory: true);
        return new Cifar10Source(Unreachable, FileChecksum.Md5Hex(archive), new FileInfo(archive).Length, RecordsPerFile: perFile);
    }
}
