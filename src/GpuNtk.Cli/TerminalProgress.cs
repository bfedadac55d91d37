namespace GpuNtk.Cli;

/// <summary>A percentage on stderr when it is a terminal (stdout keeps the one JSON line); null otherwise.</summary>
internal static class TerminalProgress
{
    public static IProgress<double>? Create(string label)
    {
        if (Console.IsErrorRedirected) return null;
        int last = -1;
        return new Synchronous(f =>
        {
            int pct = (int)(f * 100);
            if (pct == last) return;
            last = pct;
            Console.Error.Write(pct < 100 ? $"\r{label}: {pct,3}%" : "\r" + new string(' ', label.Length + 6) + "\r");
        });
    }

    /// <summary>Reports on the calling thread (System.Progress would post to a thread pool).</summary>
    private sealed class Synchronous(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
