using GpuNtk.Tests.Cli;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using NUnit.Framework;

namespace GpuNtk.Tests.Training.Faults;

/// <summary>
/// A real <c>gpuntk train</c> child process (the CLI built next to these tests through the test project's build-order
/// reference: <c>src/GpuNtk.Cli/bin/&lt;configuration&gt;/&lt;tfm&gt;/gpuntk.dll</c>), its output captured, with
/// SIGKILL and SIGTERM and waits on events in its run folder (never on sleeps alone).
/// </summary>
internal sealed class TrainProcess : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private TrainProcess(IEnumerable<string> args, string workDir)
    {
        var info = new ProcessStartInfo(GpuNtkProcess.DotNet)
        {
            WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        info.ArgumentList.Add(Dll!);
        foreach (var a in args) info.ArgumentList.Add(a);
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string? Dll => GpuNtkProcess.Dll;

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Skips the calling test when the CLI was not built next to the tests (the self-contained GPU bundle has none).</summary>
    public static void RequireBuilt()
    {
        if (Dll is null) Assert.Ignore("gpuntk.dll not found under src/GpuNtk.Cli/bin/<configuration>/: build GpuNtk.sln");
    }

    public static TrainProcess Start(string workDir, params string[] args) => new(args, workDir);

    /// <summary>Runs to the end; fails the test past a generous timeout.</summary>
    public static (int ExitCode, string Output) Run(string workDir, params string[] args)
    {
        using var p = Start(workDir, args);
        return (p.WaitForExit(), p.Output);
    }

    public int WaitForExit()
    {
        if (!_process.WaitForExit(s_timeout))
        {
            _process.Kill();
            Assert.Fail($"gpuntk ran past {s_timeout.TotalMinutes} min:\n{Output}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits until <paramref name="condition"/> holds (polled) or the process ends; true when it held first.</summary>
    public bool WaitUntil(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < s_timeout)
        {
            if (condition()) return true;
            if (_process.HasExited) return condition();
            Thread.Sleep(15);
        }
        Assert.Fail($"the awaited event did not come within {s_timeout.TotalMinutes} min:\n{Output}");
        return false;
    }

    /// <summary>SIGKILL (no handler runs: a crash, an OOM kill, a node failure). False when the process had already ended.</summary>
    public bool KillHard()
    {
        if (_process.HasExited) return false;
        _process.Kill();
        _process.WaitForExit();
        return true;
    }

    /// <summary>SIGTERM, what SLURM, Kubernetes and systemd send before a kill.</summary>
    public void Terminate() => Assert.That(SendSignal(_process.Id, 15), Is.Zero, "kill(SIGTERM) failed");

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code enabled in the test project; kill(2) takes two ints.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
#pragma warning restore SYSLIB1054
}
