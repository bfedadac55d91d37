using System.CommandLine;
using GpuNtk.Native;

namespace GpuNtk.Cli;

/// <summary>Runs the parsed command; turns expected failures (bad input, native loading) into one clear line and exit code 1/2.</summary>
internal static class CliRunner
{
    /// <summary>
    /// <c>--allow-tf32</c>, on every command: TF32 tensor-core math for float32 matrix products and convolutions on
    /// NVIDIA GPUs. Off by default (<see cref="GpuNtk.Devices.PrecisionSettings"/>): kernel comparisons need full float32.
    /// </summary>
    public static readonly Option<bool> AllowTf32 = new("--allow-tf32")
    {
        Description = "Allow TF32 tensor-core math for float32 matmuls/convolutions on NVIDIA GPUs (faster, ~10-bit mantissa); off by default for NTK accuracy.",
        Recursive = true,
    };

    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            root.Options.Add(AllowTf32);
            var parse = root.Parse(args);
            if (parse.Errors.Count == 0 && parse.GetValue(AllowTf32))
            {
                // libtorch holds the flag (process-wide); its first load turns TF32 off, so load it before switching it on.
                TorchNative.EnsureLoaded();
                GpuNtk.Devices.PrecisionSettings.SetTf32(true);
            }
            return await parse.InvokeAsync();
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
