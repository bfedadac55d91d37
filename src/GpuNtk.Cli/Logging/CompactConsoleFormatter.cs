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
    public static ILoggerFactory Create() => LoggerFactory.Create(builder => builder
        .AddConsole(o => o.FormatterName = CompactConsoleFormatter.FormatterName)
        .AddConsoleFormatter<CompactConsoleFormatter, ConsoleFormatterOptions>()
        .SetMinimumLevel(LogLevel.Information));
}
