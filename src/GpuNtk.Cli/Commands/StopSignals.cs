using System.Runtime.InteropServices;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// SIGINT and SIGTERM as a cancellation: the first one cancels <see cref="Token"/> (the trainer finishes its step,
/// checkpoints and returns) instead of killing the process; <see cref="ExitCode"/> is then 128 + the signal's number
/// (130 for SIGINT, 143 for SIGTERM), the codes schedulers and shells expect. A second signal ends the process at once.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;
    private int _exitCode = 130;

    public StopSignals() =>
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, e => Stop(e, 130)), PosixSignalRegistration.Create(PosixSignal.SIGTERM, e => Stop(e, 143))];

    public CancellationToken Token => _cancel.Token;

    /// <summary>128 + the number of the signal that stopped the run (130 when cancelled otherwise).</summary>
    public int ExitCode => _exitCode;

    private void Stop(PosixSignalContext context, int code)
    {
        // A second signal takes its default action (the process ends): the way out of a step that does not finish.
        if (_cancel.IsCancellationRequested) return;
        context.Cancel = true;
        _exitCode = code;
        Console.Error.WriteLine($"{(code == 143 ? "SIGTERM" : "SIGINT")}: finishing the current step and saving a checkpoint…");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cancel.Dispose();
    }
}
