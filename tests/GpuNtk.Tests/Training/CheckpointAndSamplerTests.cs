using System.Text.Json.Nodes;
using GpuNtk.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

public sealed class CheckpointAndSamplerTests
{
    [Test]
    public void CheckpointFileRoundTripsTensorsAndMetadata()
    {
        using var dir = new TempDirectory();
        var path = dir["c.bin"];
        using var a = randn(3, 4, ScalarType.Float64);
        using var b = tensor(new long[] { 5, -7 });
        using var c = empty(0, ScalarType.Int64);
        TrainingCheckpointFile.Write(path, new JsonObject { ["step"] = 42 }, [("a", a), ("b", b), ("c", c)]);
        var (meta, tensors) = TrainingCheckpointFile.Read(path);
        Assert.That((long)meta["step"]!, Is.EqualTo(42));
        Assert.That(tensors["a"].eq(a).all().item<bool>(), Is.True);
        Assert.That(tensors["b"].data<long>().ToArray(), Is.EqualTo(new long[] { 5, -7 }));
        Assert.That(tensors["c"].numel(), Is.EqualTo(0));
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }), "no temporary file left");
    }

    [Test]
    public void TruncatedCheckpointIsReported()
    {
        using var dir = new TempDirectory();
        var path = dir["c.bin"];
        TrainingCheckpointFile.Write(path, new JsonObject(), [("a", randn(100))]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 10).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => TrainingCheckpointFile.Read(path));
        Assert.That(e!.Message, Does.Contain("truncated"));
        File.WriteAllText(path, "not a checkpoint at all");
        Assert.Throws<InvalidDataException>(() => TrainingCheckpointFile.Read(path));
    }

    [Test]
    public void SamplerCoversEachEpochAndItsStateReplaysTheSameBatches()
    {
        using var sampler = new MinibatchSampler(10, 3, seed: 1, CPU);
        var epoch = Enumerable.Range(0, 3).SelectMany(_ => sampler.Next().data<long>().ToArray()).ToArray();
        Assert.That(epoch.Distinct().Count(), Is.EqualTo(9), "no index twice within an epoch");
        var state = sampler.SaveState().ToDictionary(s => s.Name, s => s.Value.clone());
        var expected = Enumerable.Range(0, 5).Select(_ => sampler.Next().data<long>().ToArray()).ToArray();
        using var restored = new MinibatchSampler(10, 3, seed: 99, CPU);
        restored.LoadState(state);
        var actual = Enumerable.Range(0, 5).Select(_ => restored.Next().data<long>().ToArray()).ToArray();
        Assert.That(actual, Is.EqualTo(expected));
        using var full = new MinibatchSampler(4, 10, seed: 0, CPU);
        Assert.That(full.Next().data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 2, 3 }));
    }
}
