using System.Diagnostics;
using System.Text.Json;
using static TorchSharp.torch;

namespace GpuNtk.Bench;

/// <summary>The Python side of the comparison: which interpreter, script, threads and device.</summary>
internal sealed record PeerSettings(string Python, string Script, int Threads, string Device, bool SkipVectorProducts);

/// <summary>
/// Runs bench/torchfunc_ntk.py (torch.func, or functorch on PyTorch 1.13) on the same weights and inputs as GpuNtk's
/// rows: exports them with <see cref="PeerExport"/> to a temporary folder, runs the script there and returns its JSON
/// line (timings, the relative difference to GpuNtk's NTK), or null with the reason logged.
/// </summary>
internal static class TorchFuncPeer
{
    public static JsonElement? Run(PeerSettings settings, string arch, long n, long seed, Device device, TextWriter log)
    {
        if (!File.Exists(settings.Script)) { log.WriteLine($"peer: {settings.Script} not found"); return null; }
        if (ProbeTorch(settings.Python) is { } problem) { log.WriteLine($"peer: {problem}; skipping the torch.func comparison"); return null; }
        var dir = Directory.CreateTempSubdirectory("gpuntk-peer-").FullName;
        try
        {
            PeerExport.Write(dir, arch, n, seed, ScalarType.Float32, device);
            var psi = new ProcessStartInfo(settings.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { settings.Script, dir, "--threads", settings.Threads.ToString(), "--device", settings.Device })
                psi.ArgumentList.Add(a);
            if (settings.SkipVectorProducts) psi.ArgumentList.Add("--skip-vp");
            psi.Environment["OMP_NUM_THREADS"] = settings.Threads.ToString();
            psi.Environment["OPENBLAS_NUM_THREADS"] = settings.Threads.ToString();
            psi.Environment[OpenMpPolicy.Variable] = Environment.GetEnvironmentVariable(OpenMpPolicy.Variable) ?? "PASSIVE";
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) { log.WriteLine($"peer: {Path.GetFileName(settings.Script)} failed ({p.ExitCode}) on {arch}: {stderr.Result}"); return null; }
            var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
            return JsonDocument.Parse(line).RootElement.Clone();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Null when <paramref name="python"/> imports torch and torch.func or functorch; else why not.</summary>
    private static string? ProbeTorch(string python)
    {
        try
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import torch\ntry:\n    import torch.func\nexcept ImportError:\n    import functorch");
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.WaitForExit();
            return p.ExitCode == 0 ? null : $"{python} cannot import torch with torch.func or functorch ({err.Result.Trim().Split('\n').LastOrDefault()})";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{python} cannot be started ({e.Message})";
        }
    }
}
