using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>
/// The fixtures real PyTorch wrote (Fixtures/make_fixtures.py) and what they hold (Fixtures/expected.json), plus the
/// Python interpreter with torch that round-trip tests need.
/// </summary>
internal static class CheckpointFixtures
{
    public static string Directory { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "Checkpoints", "Fixtures");

    public static string Path(string name) => System.IO.Path.Combine(Directory, name);

    public static byte[] Bytes(string name) => File.ReadAllBytes(Path(name));

    /// <summary>Tensors described in expected.json under <paramref name="section"/>: dtype, shape, flat values.</summary>
    public static IReadOnlyDictionary<string, ExpectedTensor> Expected(string section)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path("expected.json")));
        return doc.RootElement.GetProperty(section).EnumerateObject().ToDictionary(
            p => p.Name,
            p => new ExpectedTensor(
                p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
                p.Value.GetProperty("values").EnumerateArray().Select(x => x.GetDouble()).ToArray()));
    }

    /// <summary>A tensor's values, row-major, as doubles (bool as 0/1).</summary>
    public static double[] Values(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.to_type(ScalarType.Float64).contiguous().reshape(-1).data<double>().ToArray();
    }

    /// <summary>Debian's interpreter, where python3-torch installs PyTorch; GPUNTK_PYTHON overrides it.</summary>
    public static string PythonPath { get; } = Environment.GetEnvironmentVariable("GPUNTK_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    private static readonly Lazy<string?> s_pythonProblem = new(() =>
    {
        if (!File.Exists(PythonPath)) return $"{PythonPath} is not installed";
        var (code, _, err) = RunProcess(PythonPath, ["-c", "import torch; print(torch.__version__)"]);
        return code == 0 ? null : $"{PythonPath} cannot import torch ({err.Trim().Split('\n').LastOrDefault()}); install python3-torch";
    });

    /// <summary>Skips the calling test, with the reason shown, when /usr/bin/python3 with torch is not available.</summary>
    public static void RequirePythonTorch()
    {
        if (s_pythonProblem.Value is { } problem) Assert.Ignore($"Python round trip skipped: {problem}.");
    }

    /// <summary>Runs a fixture script with /usr/bin/python3 and returns its standard output; fails on a non-zero exit.</summary>
    public static string RunPythonScript(string script, params string[] args)
    {
        var (code, output, error) = RunProcess(PythonPath, [Path(script), .. args]);
        if (code != 0) Assert.Fail($"{script} {string.Join(" ", args)} exited with {code}:\n{error}");
        return output;
    }

    private static (int Code, string Output, string Error) RunProcess(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }
}

internal sealed record ExpectedTensor(string DType, long[] Shape, double[] Values);
