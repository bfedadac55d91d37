using GpuNtk.Checkpoints;
using GpuNtk.Networks;
using GpuNtk.Networks.StateDicts;
using GpuNtk.Tests.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Networks.StateDicts;

/// <summary>Loading PyTorch weights into GpuNtk networks; outputs compared with PyTorch's own on fixed inputs.</summary>
public class StateDictLoaderTests
{
    private const string MlpSpec = "fcn:depth=2,width=16,in=6,out=3,act=relu,param=standard";
    private const string CnnSpecText = "cnn:depth=1,channels=4,in=1,size=8,out=3,act=relu,param=standard";

    [TestCase("mlp_state_dict.pt")]
    [TestCase("mlp.safetensors")]
    [TestCase("mlp_parameters.pt")] // dict(model.named_parameters()): nn.Parameter objects (_rebuild_parameter)
    [TestCase("container.pt")] // the same architecture after one Adam step, under "model"
    public void PyTorchSequentialMlpGivesPyTorchOutputsInFloat32(string file)
    {
        using var net = NetworkFactory.Create(MlpSpec, seed: 0, ScalarType.Float32);
        var result = StateDictLoader.LoadInto(net, CheckpointFixtures.Path(file));
        Assert.That(result.Mapping, Is.EqualTo("nn.Sequential"));
        Assert.That(result.Loaded["0.weight"], Is.EqualTo("layers.1.weight"));
        Assert.That(result.Loaded["4.bias"], Is.EqualTo("layers.5.bias"));
        if (file == "container.pt") return; // its weights moved after the outputs were recorded

        using var io = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("mlp_io.pt"));
        using var y = net.forward(io["x"]);
        double diff = MaxAbsDifference(y, io["y32"]);
        TestContext.Out.WriteLine($"{file}: float32 max |GpuNtk − PyTorch| = {diff:E3}");
        Assert.That(diff, Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void PyTorchSequentialMlpGivesPyTorchOutputsInFloat64WithConversion()
    {
        using var net = NetworkFactory.Create(MlpSpec, seed: 0, ScalarType.Float64);
        StateDictLoader.LoadInto(net, CheckpointFixtures.Path("mlp_state_dict.pt"), convertDType: true);
        using var io = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("mlp_io.pt"));
        using var x = io["x"].to_type(ScalarType.Float64);
        using var y = net.forward(x);
        double diff = MaxAbsDifference(y, io["y64"]);
        TestContext.Out.WriteLine($"float64 max |GpuNtk − PyTorch| = {diff:E3}");
        Assert.That(diff, Is.LessThanOrEqualTo(1e-12));
    }

    [Test]
    public void PyTorchSequentialCnnGivesPyTorchOutputs()
    {
        using var net = NetworkFactory.Create(CnnSpecText, seed: 0, ScalarType.Float64);
        var result = StateDictLoader.LoadInto(net, CheckpointFixtures.Path("cnn_state_dict.pt"), convertDType: true);
        Assert.That(result.Loaded["12.weight"], Is.EqualTo(StateDictMapping.ParameterizedModules(net)[^1].Name + ".weight"));
        using var io = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("cnn_io.pt"));
        using var x = io["x"].to_type(ScalarType.Float64);
        using var y = net.forward(x);
        double diff = MaxAbsDifference(y, io["y64"]);
        TestContext.Out.WriteLine($"CNN float64 max |GpuNtk − PyTorch| = {diff:E3}");
        Assert.That(diff, Is.LessThanOrEqualTo(1e-12));
    }

    [Test]
    public void StrictModeListsEveryProblemAtOnceAndLoadsNothing()
    {
        using var net = NetworkFactory.Create("fcn:depth=1,width=4,in=3,out=2", seed: 1, ScalarType.Float32);
        using var before = net.named_parameters().First().parameter.clone();
        using var sd = new StateDict([
            new("layers.1.weight", zeros(4, 5)),                              // shape mismatch
            new("layers.1.bias", zeros(4, ScalarType.Float64)),               // dtype mismatch
            new("layers.3.weight", zeros(2, 4)),                              // fine
            new("extra.weight", zeros(1)),                                    // unexpected
        ]);                                                                   // layers.3.bias missing
        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(net, sd, mapping: StateDictMapping.Identity));
        Assert.That(e!.Problems, Has.Count.EqualTo(4));
        Assert.That(e.Message, Does.Contain("shape mismatch: layers.1.weight: checkpoint [4, 5], network [4, 3]")
            .And.Contain("dtype mismatch: layers.1.bias: checkpoint float64, network float32")
            .And.Contain("unexpected: extra.weight")
            .And.Contain("missing: layers.3.bias float32[2]"));
        Assert.That(CheckpointFixtures.Values(net.named_parameters().First().parameter), Is.EqualTo(CheckpointFixtures.Values(before)), "nothing was copied");
    }

    [Test]
    public void NonStrictModeReportsMissingAndUnexpectedKeys()
    {
        using var net = NetworkFactory.Create("fcn:depth=1,width=4,in=3,out=2", seed: 1, ScalarType.Float32);
        using var sd = new StateDict([new("layers.3.weight", ones(2, 4)), new("extra", ones(1))]);
        var result = StateDictLoader.LoadInto(net, sd, strict: false, mapping: StateDictMapping.Identity);
        Assert.That(result.Loaded.Keys, Is.EqualTo(new[] { "layers.3.weight" }));
        Assert.That(result.Unexpected, Is.EqualTo(new[] { "extra" }));
        Assert.That(result.Missing, Is.EquivalentTo(new[] { "layers.1.weight", "layers.1.bias", "layers.3.bias" }));
        Assert.That(CheckpointFixtures.Values(net.named_parameters().Single(p => p.name == "layers.3.weight").parameter), Is.All.EqualTo(1.0));
    }

    [Test]
    public void SequentialMappingNeedsStandardParameterization()
    {
        using var net = NetworkFactory.Create("fcn:depth=2,width=16,in=6,out=3,param=ntk", seed: 0);
        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(net, CheckpointFixtures.Path("mlp_state_dict.pt")));
        Assert.That(e!.Message, Does.Contain("param=standard"));
    }

    [Test]
    public void ArchitectureMismatchIsExplained()
    {
        using var deeper = NetworkFactory.Create("fcn:depth=3,width=16,in=6,out=3,param=standard", seed: 0);
        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(deeper, CheckpointFixtures.Path("mlp_state_dict.pt")));
        Assert.That(e!.Message, Does.Contain("3 modules with weights").And.Contain("4 dense/conv layers"));

        using var wider = NetworkFactory.Create("fcn:depth=2,width=32,in=6,out=3,param=standard", seed: 0);
        e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(wider, CheckpointFixtures.Path("mlp_state_dict.pt")));
        Assert.That(e!.Message, Does.Contain("shape mismatch: 0.weight → layers.1.weight: checkpoint [16, 6], network [32, 6]"));
        Assert.That(e.Problems.Count(p => p.StartsWith("shape mismatch", StringComparison.Ordinal)), Is.EqualTo(5));
    }

    [TestCase("net.pt")]
    [TestCase("net.safetensors")]
    public void OwnNetworkRoundTripsThroughAFile(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"gpuntk-{Guid.NewGuid():N}-{name}");
        try
        {
            using var source = NetworkFactory.Create("cnn:depth=1,channels=3,in=1,size=8,out=2,param=ntk", seed: 3, ScalarType.Float64);
            CheckpointFiles.SaveStateDict(path, source.state_dict());
            using var target = NetworkFactory.Create("cnn:depth=1,channels=3,in=1,size=8,out=2,param=ntk", seed: 4, ScalarType.Float64);
            var result = StateDictLoader.LoadInto(target, path);
            Assert.That(result.Mapping, Is.EqualTo("identity"));
            using var x = randn(2, 64, ScalarType.Float64);
            using var a = source.forward(x);
            using var b = target.forward(x);
            Assert.That(CheckpointFixtures.Values(b), Is.EqualTo(CheckpointFixtures.Values(a)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void DataParallelPrefixIsRemoved()
    {
        using var source = NetworkFactory.Create("fcn:depth=1,width=4,in=3,out=2", seed: 3);
        using var sd = new StateDict(source.named_parameters().Select(p => new KeyValuePair<string, Tensor>("module." + p.name, p.parameter.detach().clone())));
        using var target = NetworkFactory.Create("fcn:depth=1,width=4,in=3,out=2", seed: 4);
        var result = StateDictLoader.LoadInto(target, sd);
        Assert.That(result.Loaded["module.layers.1.weight"], Is.EqualTo("layers.1.weight"));
    }

    private static double MaxAbsDifference(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max().item<double>();
    }
}
