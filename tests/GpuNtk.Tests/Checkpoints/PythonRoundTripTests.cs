using System.Text.Json;
using GpuNtk.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>
/// Files written here, read by real PyTorch (<c>/usr/bin/python3</c> with torch, Fixtures/read_checkpoint.py).
/// Skipped, with the reason shown, where that interpreter or torch is missing.
/// </summary>
[Category("Python")]
public class PythonRoundTripTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDirectory()
    {
        CheckpointFixtures.RequirePythonTorch();
        _dir = Path.Combine(Path.GetTempPath(), $"gpuntk-roundtrip-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteDirectory()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void TorchLoadWeightsOnlyReadsOurPtFile()
    {
        using var sd = CheckpointSamples.AllKinds();
        var path = Path.Combine(_dir, "written.pt");
        TorchCheckpoint.SaveStateDict(path, sd);
        var result = ReadInPython(path);
        TestContext.Out.WriteLine($"PyTorch {result.Torch}, read with {result.Loader}");
        Assert.That(result.Loader, Is.EqualTo("torch.load(weights_only=True)"), "this PyTorch has weights_only, so it must be used");
        Assert.That(result.Aligned, Is.True, "records aligned to 64 bytes");
        AssertSame(sd, result);
        Assert.That(result.Tensors["tied.decoder"].Storage, Is.EqualTo(result.Tensors["tied.encoder"].Storage), "tied weights share a storage in Python");
        Assert.That(result.Tensors["float32"].Storage, Is.Not.EqualTo(result.Tensors["tied.encoder"].Storage));
    }

    [Test]
    public void PythonReadsOurSafeTensorsFile()
    {
        using var sd = CheckpointSamples.AllKinds();
        var path = Path.Combine(_dir, "written.safetensors");
        SafeTensors.Save(path, sd, new Dictionary<string, string> { ["format"] = "pt" });
        AssertSame(sd, ReadInPython(path));
    }

    [Test]
    public void NetworkWeightsRoundTripThroughPython()
    {
        using var network = GpuNtk.Networks.NetworkFactory.Create("fcn:depth=2,width=16,in=6,out=3,param=standard", seed: 5);
        var path = Path.Combine(_dir, "network.pt");
        TorchCheckpoint.SaveStateDict(path, network.state_dict());
        var result = ReadInPython(path);
        foreach (var (name, p) in network.named_parameters())
            Assert.That(result.Tensors[name].Values, Is.EqualTo(CheckpointFixtures.Values(p)), name);
    }

    private static void AssertSame(IReadOnlyDictionary<string, Tensor> expected, PythonResult result)
    {
        Assert.That(result.Tensors.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, t) in expected)
        {
            var p = result.Tensors[name];
            Assert.That(p.DType, Is.EqualTo(CheckpointDType.Of(t.dtype).Name), name);
            Assert.That(p.Shape, Is.EqualTo(t.shape), name);
            Assert.That(p.Values, Is.EqualTo(CheckpointFixtures.Values(t)), name);
        }
    }

    private static PythonResult ReadInPython(string path)
    {
        using var doc = JsonDocument.Parse(CheckpointFixtures.RunPythonScript("read_checkpoint.py", path));
        var root = doc.RootElement;
        var tensors = root.GetProperty("tensors").EnumerateObject().ToDictionary(p => p.Name, p => new PythonTensor(
            p.Value.GetProperty("dtype").GetString()!,
            p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
            p.Value.GetProperty("values").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            p.Value.GetProperty("storage").GetInt64()));
        bool? aligned = root.GetProperty("aligned").ValueKind == JsonValueKind.Null ? null : root.GetProperty("aligned").GetBoolean();
        return new PythonResult(root.GetProperty("torch").GetString()!, root.GetProperty("loader").GetString()!, aligned, tensors);
    }

    private sealed record PythonTensor(string DType, long[] Shape, double[] Values, long Storage);

    private sealed record PythonResult(string Torch, string Loader, bool? Aligned, Dictionary<string, PythonTensor> Tensors);
}
