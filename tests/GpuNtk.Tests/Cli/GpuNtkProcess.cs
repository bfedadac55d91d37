using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace GpuNtk.Tests.Cli;

/// <summary>
/// Runs the real <c>gpuntk</c> built next to these tests (<c>src/GpuNtk.Cli/bin/&lt;configuration&gt;/&lt;tfm&gt;/gpuntk.dll</c>,
/// built first through the test project's reference) as a child process, directly or under a launcher such as mpirun.
/// </summary>
internal static class GpuNtkProcess
{
    public static string? Dll { get; } = Locate();

    /// <summary>The dotnet host running these tests (the SDK sets DOTNET_HOST_PATH), else dotnet on PATH.</summary>
    public static string DotNet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Skips the calling test when the CLI was not built next to the tests (e.g. in the self-contained GPU test bundle).</summary>
    public static void RequireBuilt()
    {
        if (Dll is null)
            Assert.Ignore("gpuntk.dll not found under src/GpuNtk.Cli/bin/<configuration>/: build GpuNtk.sln (the self-contained test bundle has no CLI)");
    }

    /// <summary>Finds <paramref name="program"/> on PATH, or null.</summary>
    public static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="args"/> in <paramref name="workDir"/>, output captured.</summary>
    public static Process Start(string fileName, IEnumerable<string> args, string workDir, IReadOnlyDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) info.Environment[k] = v;
        return Process.Start(info)!;
    }

    /// <summary>Runs <c>gpuntk ARGS</c> to completion; fails the test on a timeout.</summary>
    public static Result Run(string workDir, params string[] args) => RunProgram(DotNet, [Dll!, .. args], workDir);

    /// <summary>Runs <c>gpuntk ARGS</c> with extra environment variables.</summary>
    public static Result Run(string workDir, IReadOnlyDictionary<string, string> env, params string[] args) =>
        RunProgram(DotNet, [Dll!, .. args], workDir, env: env);

    /// <summary>Runs any program to completion (e.g. mpirun … dotnet gpuntk.dll …); fails the test on a timeout.</summary>
    public static Result RunProgram(string fileName, IEnumerable<string> args, string workDir, int timeoutSeconds = 300,
        IReadOnlyDictionary<string, string>? env = null)
    {
        using var p = Start(fileName, args, workDir, env);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} {string.Join(' ', args)} ran past {timeoutSeconds} s");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public sealed record Result(int ExitCode, string Out, string Err)
    {
        /// <summary>
        /// The JSON lines on stdout (one per worker), parsed. Under mpirun the workers' stdout is a terminal, and .NET
        /// may put terminal-mode escapes in front of a line: each line is read from its first brace.
        /// </summary>
        public IReadOnlyList<JsonElement> Json => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains('{')).Select(l => JsonDocument.Parse(l[l.IndexOf('{')..].Trim()).RootElement.Clone()).ToList();

        public override string ToString() => $"exit {ExitCode}\nstdout: {Out}\nstderr: {Err}";
    }

    private static string? Locate()
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = testDir.Name, configuration = testDir.Parent?.Name ?? "Release";
        for (var d = testDir; d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "GpuNtk.sln")))
            {
                var dll = Path.Combine(d.FullName, "src", "GpuNtk.Cli", "bin", configuration, tfm, "gpuntk.dll");
                return File.Exists(dll) ? dll : null;
            }
        return null;
    }
}
