using GpuNtk.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>Format detection, inspection and conversion by path (what the CLI uses).</summary>
public class CheckpointFilesTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDirectory()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"gpuntk-files-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    [TestCase("mlp_state_dict.pt", CheckpointFormat.TorchZip)]
    [TestCase("legacy.pt", CheckpointFormat.TorchLegacy)]
    [TestCase("mlp.safetensors", CheckpointFormat.SafeTensors)]
    [TestCase("make_fixtures.py", CheckpointFormat.Unknown)]
    public void DetectsFormatsByContent(string file, CheckpointFormat format) =>
        Assert.That(CheckpointFiles.DetectFormat(CheckpointFixtures.Path(file)), Is.EqualTo(format));

    [Test]
    public void LoadStateDictFindsTheModelInsideATrainingCheckpoint()
    {
        using var fromContainer = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("container.pt"));
        using var fromSafeTensors = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("mlp.safetensors"));
        Assert.That(fromContainer.Keys, Is.EqualTo(fromSafeTensors.Keys));
        Assert.That(fromSafeTensors.Metadata["arch"], Is.EqualTo("6-16-16-3 relu"));
    }

    [Test]
    public void LoadStateDictExplainsWhenThereIsNone()
    {
        var path = Path.Combine(_dir, "scalars.pt");
        // A dict without tensors: {"epoch": 3}
        File.WriteAllBytes(path, TorchZipBuilder.WithPickle(TorchZipBuilder.Pickle(0x80, 2, '}', TorchZipBuilder.Str("epoch"), 'K', 3, 's', '.')));
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFiles.LoadStateDict(path));
        Assert.That(e!.Message, Does.Contain("no state_dict found").And.Contain("keys epoch").And.Contain("model.state_dict()"));
    }

    [Test]
    public void InspectListsTensorsAndValues()
    {
        var summary = CheckpointFiles.Inspect(CheckpointFixtures.Path("container.pt"));
        Assert.That(summary.Format, Is.EqualTo(CheckpointFormat.TorchZip));
        Assert.That(summary.StateDictPath, Is.EqualTo("model"));
        var weight = summary.Tensors.Single(t => t.Name == "model.0.weight");
        Assert.That(weight.DType, Is.EqualTo("float32"));
        Assert.That(weight.Shape, Is.EqualTo(new long[] { 16, 6 }));
        Assert.That(weight.Bytes, Is.EqualTo(384));
        Assert.That(summary.Values, Does.Contain(new KeyValuePair<string, string>("epoch", "7")));
        Assert.That(summary.Values, Does.Contain(new KeyValuePair<string, string>("name", "'mlp-6-16-16-3'")));

        var st = CheckpointFiles.Inspect(CheckpointFixtures.Path("dtypes.safetensors"));
        Assert.That(st.Tensors.Single(t => t.Name == "bfloat16").Bytes, Is.EqualTo(48));
        Assert.That(st.Metadata["source"], Is.EqualTo("make_fixtures.py"));
    }

    [Test]
    public void ConvertsBetweenFormatsBothWays()
    {
        var safetensors = Path.Combine(_dir, "model.safetensors");
        var pt = Path.Combine(_dir, "model.pt");
        var conversion = CheckpointFiles.Convert(CheckpointFixtures.Path("container.pt"), safetensors);
        Assert.That(conversion.TensorCount, Is.EqualTo(6));
        Assert.That(conversion.StateDictPath, Is.EqualTo("model"));
        Assert.That(conversion.Skipped, Does.Contain("optimizer").And.Contain("epoch"));
        CheckpointFiles.Convert(safetensors, pt);
        using var original = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("container.pt"));
        using var back = CheckpointFiles.LoadStateDict(pt);
        Assert.That(back.Keys, Is.EqualTo(original.Keys));
        foreach (var (name, t) in original)
            Assert.That(CheckpointFixtures.Values(back[name]), Is.EqualTo(CheckpointFixtures.Values(t)), name);
        Assert.Throws<ArgumentException>(() => CheckpointFiles.Convert(pt, Path.Combine(_dir, "model.xyz")));
    }

    [Test]
    public void UnknownFilesAreExplained()
    {
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("make_fixtures.py")));
        Assert.That(e!.Message, Does.Contain("neither a torch.save zip file"));
        Assert.Throws<LegacyCheckpointException>(() => CheckpointFiles.Inspect(CheckpointFixtures.Path("legacy.pt")));
    }
}
