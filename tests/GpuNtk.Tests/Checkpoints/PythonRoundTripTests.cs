using System.Text.Json;
using GpuNtk.Checkpoints;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>
/// Files written here, read by real PyTorch (<c>/usr/bin/python3</c> with torch, Fixtures/read_checkpoint.py, one
/// Python process for all files). Skipped, with the reason shown, where that interpreter or torch is missing.
/// </summary>
[Category("Python")]
public class PythonRoundTripTests
{
    private const string NetworkSpec = "fcn:depth=2,width=16,in=6,out=3,param=standard";
    private string _dir = "";
    private StateDict _samples = null!;
    private Network _network = null!;
    private Dictionary<string, PythonResult> _read = null!;

    [OneTimeSetUp]
    public void WriteFilesAndReadThemInPython()
    {
        CheckpointFixtures.RequirePythonTorch();
        _dir = Path.Combine(Path.GetTempPath(), $"gpuntk-roundtrip-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _samples = CheckpointSamples.AllKinds();
        _network = NetworkFactory.Create(NetworkSpec, seed: 5);
        TorchCheckpoint.SaveStateDict(File("samples.pt"), _samples);
        SafeTensors.Save(File("samples.safetensors"), _samples, new Dictionary<string, string> { ["format"] = "pt" });
        TorchCheckpoint.SaveStateDict(File("network.pt"), _network.state_dict());
        var output = CheckpointFixtures.RunPythonScript("read_checkpoint.py", File("samples.pt"), File("samples.safetensors"), File("network.pt"));
        _read = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToDictionary(r => Path.GetFileName(r.File));
    }

    [OneTimeTearDown]
    public void DeleteFiles()
    {
        _samples?.Dispose();
        _network?.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void TorchLoadWeightsOnlyReadsOurPtFile()
    {
        var result = _read["samples.pt"];
        TestContext.Out.WriteLine($"PyTorch {result.Torch}, read with {result.Loader}");
        Assert.That(result.Loader, Is.EqualTo("torch.load(weights_only=True)"), "this PyTorch has weights_only, so it must be used");
        Assert.That(result.Aligned, Is.True, "records aligned to 64 bytes");
        AssertSame(_samples, result);
        Assert.That(result.Tensors["tied.decoder"].Storage, Is.EqualTo(result.Tensors["tied.encoder"].Storage), "tied weights share a storage in Python");
        Assert.That(result.Tensors["float32"].Storage, Is.Not.EqualTo(result.Tensors["tied.encoder"].Storage));
    }

    [Test]
    public void PythonReadsOurSafeTensorsFile() => AssertSame(_samples, _read["samples.safetensors"]);

    [Test]
    public void NetworkWeightsRoundTripThroughPython()
    {
        var result = _read["network.pt"];
        foreach (var (name, p) in _network.named_parameters())
            Assert.That(result.Tensors[name].Values, Is.EqualTo(CheckpointFixtures.Values(p)), name);
    }

    private string File(string name) => Path.Combine(_dir, name);

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

    private static PythonResult Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        var tensors = root.GetProperty("tensors").EnumerateObject().ToDictionary(p => p.Name, p => new PythonTensor(
            p.Value.GetProperty("dtype").GetString()!,
            p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
            p.Value.GetProperty("values").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            p.Value.GetProperty("storage").GetInt64()));
        var aligned = root.GetProperty("aligned");
        return new PythonResult(root.GetProperty("file").GetString()!, root.GetProperty("torch").GetString()!,
            root.GetProperty("loader").GetString()!, aligned.ValueKind == JsonValueKind.Null ? null : aligned.GetBoolean(), tensors);
    }

    private sealed record PythonTensor(string DType, long[] Shape, double[] Values, long Storage);

    private sealed record PythonResult(string File, string Torch, string Loader, bool? Aligned, Dictionary<string, PythonTensor> Tensors);
}
