using System.Text.Json;
using GpuNtk.Checkpoints;
using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Bench;

/// <summary>
/// Writes what bench/torchfunc_ntk.py reads: <c>meta.json</c> (the canonical spec string and dtype), <c>params.pt</c>
/// (the network's state dict through GpuNtk's own torch.save writer, so the names and shapes the peer loads strictly
/// are GpuNtk's), <c>x.npy</c> (the bench's inputs) and <c>ntk_full.npy</c> (GpuNtk's full NTK, computed on
/// <paramref name="device"/>). The network and inputs are those <see cref="BenchRunner"/> times for the same
/// architecture, N, seed and dtype.
/// </summary>
internal static class PeerExport
{
    public static void Write(string dir, string arch, long n, long seed, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(arch, seed, dtype, device);
        var x = BenchRunner.Inputs(net.Spec, n, seed, dtype).to(device);
        TorchCheckpoint.SaveStateDict(Path.Combine(dir, "params.pt"), net.state_dict());
        NpyFile.Write(Path.Combine(dir, "x.npy"), x.cpu());
        var theta = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.Structured));
        NpyFile.Write(Path.Combine(dir, "ntk_full.npy"), theta.cpu());
        File.WriteAllText(Path.Combine(dir, "meta.json"), JsonSerializer.Serialize(new
        {
            arch = net.Spec.ToString(), // canonical: every key, so the peer needs no defaults
            dtype = dtype == ScalarType.Float64 ? "float64" : "float32",
            n, seed, @params = "params.pt", inputs = "x.npy", ntk_full = "ntk_full.npy",
            gpuntk_device = device.type == TorchSharp.DeviceType.CUDA ? "cuda" : "cpu",
        }));
    }
}
