using System.CommandLine;
using GpuNtk.Native;

namespace GpuNtk.Cli;

/// <summary>Runs the parsed command; turns expected failures (bad input, native loading) into one clear line and exit code 1/2.</summary>
internal static class CliRunner
{
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            return await root.Parse(args).InvokeAsync();
        }
        catch (NativeLoadException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    /// <summary>Wraps a command body: loads libtorch, maps user errors to messages on stderr and exit code 1.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            TorchNative.EnsureLoaded();
            if (TorchNative.PreloadWarning is { } warning) Console.Error.WriteLine($"warning: {warning}");
            return body();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or FileNotFoundException or IOException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (NativeLoadException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
    }
}
