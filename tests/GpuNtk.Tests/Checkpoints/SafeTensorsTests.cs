using System.Buffers.Binary;
using System.Text.Json;
using GpuNtk.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

public class SafeTensorsTests
{
    [Test]
    public void ReadsEveryDtypeWithMetadata()
    {
        using var sd = SafeTensors.Load(CheckpointFixtures.Path("dtypes.safetensors"));
        Assert.That(sd.Metadata, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["source"] = "make_fixtures.py" }));
        var expected = CheckpointFixtures.Expected("dtypes_safetensors");
        Assert.That(sd.Keys, Is.EqualTo(expected.Keys));
        foreach (var (name, e) in expected)
        {
            Assert.That(CheckpointDType.Of(sd[name].dtype).Name, Is.EqualTo(e.DType), name);
            Assert.That(sd[name].shape, Is.EqualTo(e.Shape), name);
            Assert.That(CheckpointFixtures.Values(sd[name]), Is.EqualTo(e.Values), name);
        }
    }

    [Test]
    public void WriteThenReadPreservesValuesOrderAndMetadata()
    {
        using var original = CheckpointSamples.AllKinds();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };
        var stream = new MemoryStream();
        SafeTensors.Save(stream, original, metadata);
        stream.Position = 0;
        using var back = SafeTensors.Load(stream, "written.safetensors");
        Assert.That(back.Keys, Is.EqualTo(original.Keys));
        Assert.That(back.Metadata, Is.EquivalentTo(metadata));
        foreach (var (name, t) in original)
        {
            Assert.That(back[name].dtype, Is.EqualTo(t.dtype), name);
            Assert.That(back[name].shape, Is.EqualTo(t.shape), name);
            Assert.That(CheckpointFixtures.Values(back[name]), Is.EqualTo(CheckpointFixtures.Values(t)), name);
        }
    }

    [Test]
    public void HeaderIsPaddedAndTensorsAreAligned()
    {
        using var sd = CheckpointSamples.AllKinds();
        var stream = new MemoryStream();
        SafeTensors.Save(stream, sd);
        var bytes = stream.ToArray();
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.EqualTo(0UL));
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        Assert.That(doc.RootElement.TryGetProperty("__metadata__", out _), Is.False, "no metadata given, none written");
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            long begin = p.Value.GetProperty("data_offsets")[0].GetInt64();
            int size = CheckpointDType.FromSafeTensorsCode(p.Value.GetProperty("dtype").GetString()!)!.ElementSize;
            Assert.That((8 + (long)n + begin) % size, Is.EqualTo(0), p.Name);
        }
    }

    [Test]
    public void HeaderAloneDescribesALargeFileWithoutReadingIt()
    {
        var stream = new MemoryStream();
        using (var sd = new StateDict([new("big", zeros(512, 512)), new("small", ones(3, ScalarType.Int64))]))
            SafeTensors.Save(stream, sd);
        stream.Position = 0;
        var header = SafeTensors.ReadHeader(stream, "big.safetensors");
        Assert.That(header.Entries.Select(e => (e.Name, e.DType.Name, e.ByteCount)),
            Is.EqualTo(new[] { ("big", "float32", 512L * 512 * 4), ("small", "int64", 24L) }));
        Assert.That(stream.Position, Is.EqualTo(header.DataStart), "stopped after the header");
    }

    [Test]
    public void NamesTheMetadataKeyReserved()
    {
        using var sd = new StateDict([new("__metadata__", zeros(1))]);
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(new MemoryStream(), sd));
    }
}
