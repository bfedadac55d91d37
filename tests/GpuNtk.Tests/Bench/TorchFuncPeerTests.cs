using System.Diagnostics;
using System.Text.Json;
using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using GpuNtk.Tests.Checkpoints;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Bench;

/// <summary>
/// bench/torchfunc_ntk.py, the PyTorch peer of the NTK benchmark, rebuilds GpuNtk's FCN, Myrtle CNN and WideResNet
/// from the spec string, loads the state dict GpuNtk writes (strictly: names and shapes) and computes the NTK with
/// torch.func/functorch. Here, in float64 on tiny networks, its full NTK must equal GpuNtk's to rounding, so any
/// difference in padding, strides, shortcuts, activation placement or parameterization fails. One Python process
/// checks every folder. Skipped where /usr/bin/python3 (or GPUNTK_PYTHON) lacks torch with torch.func or functorch.
/// </summary>
[Category("Python")]
public sealed class TorchFuncPeerTests
{
    private static readonly string[] s_specs =
    [
        "fcn:depth=2,width=16,in=12,out=3,act=gelu,param=standard",
        "cnn:depth=1,channels=4,size=8,out=3,act=erf",
        "wrn:depth=10,k=1,size=8,out=3",
        "wrn:depth=10,k=2,in=2,size=8,out=2,act=tanh,wstd=1.3,bstd=0.2",
    ];

    private TempDirectory _dir = null!;
    private Dictionary<string, JsonElement> _peer = null!;

    [OneTimeSetUp]
    public void ExportAndRunThePeer()
    {
        CheckpointFixtures.RequirePythonTorch();
        var script = FindScript();
        _dir = new TempDirectory("gpuntk-peer-test");
        var dirs = new List<string>();
        for (int i = 0; i < s_specs.Length; i++)
        {
            var dir = _dir[$"case{i}"];
            Export(dir, s_specs[i], seed: 11 + i, ntkSeed: 11 + i);
            dirs.Add(dir);
        }
        // Negative control: GpuNtk's NTK of a differently seeded network must NOT match.
        Export(_dir["mismatch"], s_specs[2], seed: 11, ntkSeed: 12);
        dirs.Add(_dir["mismatch"]);

        var info = new ProcessStartInfo(CheckpointFixtures.PythonPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] arguments = [script, .. dirs, "--check-only", "--threads", "1"];
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        p.WaitForExit();
        if (p.ExitCode != 0 && stderr.Result.Contains("No module named 'functorch'", StringComparison.Ordinal))
            Assert.Ignore($"{CheckpointFixtures.PythonPath} has torch but neither torch.func nor functorch");
        Assert.That(p.ExitCode, Is.Zero, $"torchfunc_ntk.py failed:\n{stderr.Result}");
        Assert.That(lines, Has.Length.EqualTo(dirs.Count), "one JSON line per folder");
        _peer = dirs.Zip(lines).ToDictionary(d => Path.GetFileName(d.First), d => JsonDocument.Parse(d.Second).RootElement.Clone());
    }

    [OneTimeTearDown]
    public void Delete() => _dir?.Dispose();

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void PeerNtkEqualsGpuNtks(int index)
    {
        var j = _peer[$"case{index}"];
        TestContext.Out.WriteLine($"{s_specs[index]}: {j}");
        Assert.That(j.GetProperty("arch").GetString(), Is.EqualTo(ArchitectureSpec.Parse(s_specs[index]).ToString()));
        using (var net = NetworkFactory.Create(s_specs[index], 0))
            Assert.That(j.GetProperty("parameters").GetInt64(), Is.EqualTo(net.ParameterCount));
        Assert.That(j.GetProperty("dtype").GetString(), Is.EqualTo("float64"));
        Assert.That(j.GetProperty("max_rel_diff_vs_gpuntk").GetDouble(), Is.LessThan(1e-11), "full NTK");
        Assert.That(j.GetProperty("trace_max_rel_diff_vs_gpuntk").GetDouble(), Is.LessThan(1e-11), "traced NTK = mean over outputs");
        Assert.That(j.GetProperty("vp_max_rel_diff_vs_jc").GetDouble(), Is.LessThan(1e-11), "the peer's two recipes agree");
    }

    [Test]
    public void PeerDetectsADifferentNetwork() =>
        Assert.That(_peer["mismatch"].GetProperty("max_rel_diff_vs_gpuntk").GetDouble(), Is.GreaterThan(1e-2));

    /// <summary>The bench's export format (bench/GpuNtk.Bench/PeerExport.cs), in float64.</summary>
    private static void Export(string dir, string spec, long seed, long ntkSeed)
    {
        Directory.CreateDirectory(dir);
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(spec, seed, ScalarType.Float64);
        using var ntkNet = NetworkFactory.Create(spec, ntkSeed, ScalarType.Float64);
        using var g = new Generator(5);
        var x = randn([3, net.Spec.InputSize], ScalarType.Float64, generator: g);
        TorchCheckpoint.SaveStateDict(Path.Combine(dir, "params.pt"), net.state_dict());
        NpyFile.Write(Path.Combine(dir, "x.npy"), x);
        NpyFile.Write(Path.Combine(dir, "ntk_full.npy"),
            EmpiricalNtk.Compute(ntkNet, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.Structured)));
        File.WriteAllText(Path.Combine(dir, "meta.json"), JsonSerializer.Serialize(new { arch = net.Spec.ToString(), dtype = "float64" }));
    }

    /// <summary>bench/torchfunc_ntk.py, found by walking up from the test binaries to the repository root.</summary>
    private static string FindScript()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "bench", "torchfunc_ntk.py");
            if (File.Exists(candidate)) return candidate;
        }
        Assert.Ignore($"bench/torchfunc_ntk.py not found above {AppContext.BaseDirectory} (tests run outside the repository)");
        return "";
    }
}
