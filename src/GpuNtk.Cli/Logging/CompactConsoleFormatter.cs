using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace GpuNtk.Cli.Logging;

/// <summary>Console log lines as <c>HH:mm:ss message</c>, with <c>warning:</c>/<c>error:</c> prefixes; no category noise.</summary>
internal sealed class CompactConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "gpuntk";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (string.IsNullOrEmpty(message)) return;
        var prefix = logEntry.LogLevel switch
        {
            LogLevel.Warning => "warning: ",
            LogLevel.Error or LogLevel.Critical => "error: ",
            _ => "",
        };
        textWriter.WriteLine($"{DateTime.Now:HH:mm:ss} {prefix}{message}");
    }
}

/// <summary>The CLI's logger factory: compact console lines at Information and above.</summary>
internal static class CliLogging
{
    /// <param name="toStandardError">Log to stderr, for commands whose stdout is a result (one JSON line).</param>
    public static ILoggerFactory Create(bool toStandardError = false) => LoggerFactory.Create(builder => builder
        .AddConsole(o =>
        {
            o.FormatterName = CompactConsoleFormatter.FormatterName;
            if (toStandardError) o.LogToStandardErrorThreshold = LogLevel.Trace;
        })
        .AddConsoleFormatter<CompactConsoleFormatter, ConsoleFormatterOptions>()
        .SetMinimumLevel(LogLevel.Information));
}
