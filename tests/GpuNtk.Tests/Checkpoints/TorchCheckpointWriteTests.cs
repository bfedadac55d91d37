using System.Buffers.Binary;
using System.IO.Compression;
using GpuNtk.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

public class TorchCheckpointWriteTests
{
    [Test]
    public void WrittenFileReadsBackIdentically()
    {
        using var original = CheckpointSamples.AllKinds();
        var stream = new MemoryStream();
        TorchCheckpoint.SaveStateDict(stream, original, "model");
        stream.Position = 0;
        using var tree = TorchCheckpoint.Load(stream, "written.pt");
        var root = (CheckpointDict)tree.Root;
        Assert.That(root.Entries.Select(e => CheckpointDict.KeyText(e.Key)), Is.EqualTo(original.Keys));
        foreach (var (name, t) in original)
        {
            var back = ((CheckpointTensor)root[name]).Tensor;
            Assert.That(back.dtype, Is.EqualTo(t.dtype), name);
            Assert.That(back.shape, Is.EqualTo(t.shape), name);
            Assert.That(CheckpointFixtures.Values(back), Is.EqualTo(CheckpointFixtures.Values(t)), name);
        }
        // Tied weights are written once and come back as one storage.
        Assert.That(((CheckpointTensor)root["tied.decoder"]).StorageKey, Is.EqualTo(((CheckpointTensor)root["tied.encoder"]).StorageKey));
    }

    [Test]
    public void RecordsAreStoredAlignedAndNamedLikeTorchSave()
    {
        using var sd = CheckpointSamples.AllKinds();
        var stream = new MemoryStream();
        TorchCheckpoint.SaveStateDict(stream, sd, "model");
        var bytes = stream.ToArray();
        using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(names[0], Is.EqualTo("model/data.pkl"));
        Assert.That(names, Does.Contain("model/byteorder").And.Contain("model/data/0").And.Contain("model/version"));
        Assert.That(names.Count(n => n.StartsWith("model/data/", StringComparison.Ordinal)), Is.EqualTo(sd.Count - 1), "tied pair shares a record");
        foreach (var entry in zip.Entries)
        {
            Assert.That(entry.CompressedLength, Is.EqualTo(entry.Length), $"{entry.FullName} stored");
            using var s = entry.Open();
            var content = new MemoryStream();
            s.CopyTo(content);
            Assert.That(content.Length, Is.EqualTo(entry.Length));
        }
        // Local headers: data begins at a multiple of 64.
        int offset = 0, records = 0;
        while (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset)) == 0x04034b50)
        {
            int size = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 22));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 26));
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 28));
            int data = offset + 30 + nameLength + extraLength;
            Assert.That(data % 64, Is.EqualTo(0), $"record {records}");
            offset = data + size;
            records++;
        }
        Assert.That(records, Is.EqualTo(zip.Entries.Count));
    }

    [Test]
    public void SaveToPathReplacesTheFileAtomically()
    {
        var path = Path.Combine(Path.GetTempPath(), $"gpuntk-write-{Guid.NewGuid():N}.pt");
        try
        {
            File.WriteAllText(path, "old content");
            using var sd = new StateDict([new("w", ones(2, 2))]);
            TorchCheckpoint.SaveStateDict(path, sd);
            using var back = CheckpointFiles.LoadStateDict(path);
            Assert.That(CheckpointFixtures.Values(back["w"]), Is.EqualTo(new double[] { 1, 1, 1, 1 }));
            Assert.That(Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".tmp-*"), Is.Empty);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void UnsupportedDtypeIsRefused()
    {
        using var sd = new StateDict([new("c", zeros(2, ScalarType.ComplexFloat32))]);
        Assert.Throws<ArgumentException>(() => TorchCheckpoint.SaveStateDict(new MemoryStream(), sd));
    }
}
