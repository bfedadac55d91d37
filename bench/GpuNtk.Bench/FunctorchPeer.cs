using System.Diagnostics;
using System.Text.Json;
using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Bench;

/// <summary>
/// Runs bench/functorch_ntk.py on the same FCN weights and inputs: exports them as .npy (raw NTK-parameterized
/// weights + meta.json with σw, σb), plus GpuNtk's full NTK so the script can check that the two agree.
/// </summary>
internal static class FunctorchPeer
{
    public static JsonElement? Run(string python, string script, string arch, long n, int threads, long seed, bool skipVp, TextWriter log)
    {
        if (!File.Exists(script)) { log.WriteLine($"peer: {script} not found"); return null; }
        if (!ProbeTorch(python)) { log.WriteLine($"peer: {python} has no torch + functorch; skipping the functorch comparison"); return null; }
        var dir = Directory.CreateTempSubdirectory("gpuntk-peer-").FullName;
        try
        {
            using (var net = NetworkFactory.Create(arch, seed, ScalarType.Float32))
            {
                var spec = (FcnSpec)net.Spec;
                using var g = new Generator((ulong)seed + 1);
                var x = randn([n, spec.InputSize], ScalarType.Float64, CPU, generator: g).to(ScalarType.Float32);
                var dense = net.ParameterizedLayers.Cast<DenseLayer>().ToList();
                for (int k = 0; k < dense.Count; k++)
                {
                    NpyFile.Write(Path.Combine(dir, $"W{k}.npy"), dense[k].weight.detach());
                    NpyFile.Write(Path.Combine(dir, $"b{k}.npy"), dense[k].bias.detach());
                }
                NpyFile.Write(Path.Combine(dir, "x.npy"), x);
                using var theta = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.Structured));
                NpyFile.Write(Path.Combine(dir, "ntk_full.npy"), theta);
                File.WriteAllText(Path.Combine(dir, "meta.json"), JsonSerializer.Serialize(new
                {
                    layers = dense.Count, wstd = spec.WStd, bstd = spec.BStd, outputs = spec.Outputs, dtype = "float32",
                    activation = spec.Activation.ToName(),
                }));
                if (spec.Activation != Activation.Relu) throw new ArgumentException("the functorch peer rebuilds ReLU FCNs only");
            }
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { script, dir, "--threads", threads.ToString() }) psi.ArgumentList.Add(a);
            if (skipVp) psi.ArgumentList.Add("--skip-vp");
            psi.Environment["OMP_NUM_THREADS"] = threads.ToString();
            psi.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString();
            psi.Environment[OpenMpPolicy.Variable] = Environment.GetEnvironmentVariable(OpenMpPolicy.Variable) ?? "PASSIVE";
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEnd();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) { log.WriteLine($"peer: functorch script failed ({p.ExitCode}): {stderr}"); return null; }
            var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
            return JsonDocument.Parse(line).RootElement.Clone();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool ProbeTorch(string python)
    {
        try
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import torch, functorch");
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
