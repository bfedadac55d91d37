using GpuNtk.Checkpoints;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>
/// TorchSharp.PyBridge's <c>save_py</c>/<c>load_py</c> (what TorchSharp users already call on PyTorch files) and our
/// reader/writer exchange files both ways, on a GpuNtk network.
/// </summary>
public sealed class PyBridgeInteropTests
{
    private const string Spec = "cnn:depth=1,channels=4,in=3,size=8,out=5";

    [Test]
    public void OurReaderReadsWhatSavePyWrites()
    {
        using var dir = new TempDirectory("gpuntk-pybridge");
        using var net = NetworkFactory.Create(Spec, seed: 3, ScalarType.Float64);
        var path = dir["pybridge.pt"];
        net.save_py(path);
        using var state = CheckpointFiles.LoadStateDict(path);
        var expected = net.state_dict();
        Assert.That(state.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, t) in expected)
        {
            Assert.That(state[name].dtype, Is.EqualTo(t.dtype), name);
            Assert.That(state[name].shape, Is.EqualTo(t.shape), name);
            Assert.That(state[name].eq(t).all().item<bool>(), Is.True, name);
        }
    }

    [Test]
    public void LoadPyReadsWhatOurWriterWrites()
    {
        using var dir = new TempDirectory("gpuntk-pybridge");
        using var source = NetworkFactory.Create(Spec, seed: 3, ScalarType.Float64);
        using var target = NetworkFactory.Create(Spec, seed: 4, ScalarType.Float64);
        var path = dir["ours.pt"];
        CheckpointFiles.SaveStateDict(path, source.state_dict());
        Assert.That(Differs(source, target), Is.True, "different seeds, different weights");
        target.load_py(path, strict: true);
        Assert.That(Differs(source, target), Is.False);
    }

    private static bool Differs(Network a, Network b)
    {
        var other = b.state_dict();
        return a.state_dict().Any(kv => !kv.Value.eq(other[kv.Key]).all().item<bool>());
    }
}
