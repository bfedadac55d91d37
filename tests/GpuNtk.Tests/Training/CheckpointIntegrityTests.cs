using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GpuNtk.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

/// <summary>The checkpoint container's checksums, malformed headers and two generations.</summary>
public sealed class CheckpointIntegrityTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void Create() => _dir = new TempDirectory("gpuntk-ckpt");

    [TearDown]
    public void Delete() => _dir.Dispose();

    private string WriteSample(string name = "checkpoint.bin", double scale = 1)
    {
        var path = _dir[name];
        using var g = new Generator(7);
        using var a = randn([16, 8], ScalarType.Float64, generator: g).mul(scale);
        using var b = arange(5, ScalarType.Int64);
        using var c = zeros(0, ScalarType.Float32);
        TrainingCheckpointFile.Write(path, new JsonObject { ["step"] = 12 }, [("model.weight", a), ("sampler.position", b), ("empty", c)], previousPath: _dir["checkpoint.prev.bin"]);
        return path;
    }

    [Test]
    public void TwoHundredSeededByteFlipsAreEachAClearErrorNamingTheFile()
    {
        var path = WriteSample();
        var original = File.ReadAllBytes(path);
        var random = new Random(14);
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < 200; i++)
        {
            var bytes = (byte[])original.Clone();
            int at = random.Next(bytes.Length);
            bytes[at] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpointFile.Read(path), $"flip at byte {at} of {bytes.Length}")!;
            Assert.That(e.Message, Does.StartWith(path), $"flip at byte {at}");
            var kind = e.Message.Contains("checksum") ? "checksum" : e.Message.Contains("magic") ? "magic" : e.Message.Contains("length") ? "length" : "other";
            outcomes[kind] = outcomes.GetValueOrDefault(kind) + 1;
        }
        TestContext.Out.WriteLine("200 flips: " + string.Join(", ", outcomes.Select(kv => $"{kv.Value} {kv.Key}")));
        Assert.That(outcomes.GetValueOrDefault("other"), Is.Zero);
    }

    [Test]
    public void ATruncatedCheckpointIsAClearErrorAtEveryLength()
    {
        var path = WriteSample();
        var original = File.ReadAllBytes(path);
        foreach (int length in new[] { 0, 5, 8, 20, 48, 60, original.Length / 2, original.Length - 1 })
        {
            File.WriteAllBytes(path, original[..length]);
            var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpointFile.Read(path), $"{length} bytes")!;
            Assert.That(e.Message, Does.StartWith(path));
        }
    }

    [TestCase("dtype", "\"NoSuchType\"", "unknown dtype")]
    [TestCase("shape", "[-3]", "dimension -3")]
    [TestCase("shape", "[4611686018427387904, 4]", "dimension")]
    [TestCase("shape", "[3, 3]", "cannot hold")]
    [TestCase("bytes", "-1", "bytes")]
    [TestCase("offset", "8", "starts at 8")]
    [TestCase("sha256", "null", "no checksum")]
    [TestCase("name", "7", "malformed")]
    public void AMalformedHeaderWithAValidChecksumIsAClearError(string field, string json, string expected)
    {
        var path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        var root = JsonNode.Parse(bytes.AsSpan(48, (int)length))!.AsObject();
        root["tensors"]![0]![field] = JsonNode.Parse(json);
        var header = Encoding.UTF8.GetBytes(root.ToJsonString());
        using var s = new MemoryStream();
        s.Write(bytes.AsSpan(0, 8));
        var len = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, header.Length);
        s.Write(len);
        s.Write(SHA256.HashData(header));
        s.Write(header);
        s.Write(bytes.AsSpan(48 + (int)length));
        File.WriteAllBytes(path, s.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpointFile.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain(expected));
    }

    [Test]
    public void TheReplacedCheckpointIsKeptAsThePreviousGeneration()
    {
        WriteSample(scale: 1);
        var path = WriteSample(scale: 2);
        var (_, current) = TrainingCheckpointFile.Read(path);
        var (_, previous) = TrainingCheckpointFile.Read(_dir["checkpoint.prev.bin"]);
        Assert.That(current["model.weight"].allclose(previous["model.weight"].mul(2)));
        foreach (var t in current.Values.Concat(previous.Values)) t.Dispose();
        Assert.That(Directory.GetFiles(_dir.Path, ".*.tmp"), Is.Empty);
    }

    [Test]
    public void ACorruptCheckpointNamesTheIntactPreviousOneAsTheRemedy()
    {
        WriteSample(scale: 1);
        var path = WriteSample(scale: 2);
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 1;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.ReadCheckpointConfig(path))!;
        Assert.That(e.Message, Does.Contain("'sampler.position'").And.Contain("checksum"));
        Assert.That(e.Message, Does.Contain($"{_dir["checkpoint.prev.bin"]} is intact: move it to {path}"));
    }

    [Test]
    public void ACheckpointThatIsAFolderIsAClearError()
    {
        Directory.CreateDirectory(_dir["checkpoint.bin"]);
        var e = Assert.Throws<IOException>(() => TrainingCheckpointFile.Read(_dir["checkpoint.bin"]))!;
        Assert.That(e.Message, Does.Contain("is a folder"));
    }
}
