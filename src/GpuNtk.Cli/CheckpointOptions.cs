using System.CommandLine;
using GpuNtk.Networks;
using GpuNtk.Networks.StateDicts;

namespace GpuNtk.Cli;

/// <summary>
/// Options that start a command from saved weights (<c>ntk --checkpoint</c>, <c>train --init-from</c>) and the one
/// call that applies them. A command adds the option and, after building its network, calls <see cref="Apply"/>.
/// </summary>
internal static class CheckpointOptions
{
    public static Option<string?> Checkpoint() => new("--checkpoint")
    {
        Description = "Load the network's weights from a .pt/.pth (torch.save) or .safetensors file instead of initialising them. " +
                      "GpuNtk's own names load as they are; a PyTorch nn.Sequential of Linear/Conv2d maps onto a param=standard fcn/cnn.",
    };

    public static Option<string?> InitFrom() => new("--init-from")
    {
        Description = "Start from the weights in this .pt/.pth (torch.save) or .safetensors file (names as for --checkpoint).",
    };

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="network"/> (nothing when null), strictly, converting dtypes to the
    /// network's (e.g. a float32 PyTorch checkpoint into a --dtype float64 network), and says so on stderr.
    /// </summary>
    public static void Apply(Network network, string? path)
    {
        if (path is null) return;
        var result = StateDictLoader.LoadInto(network, path, strict: true, convertDType: true);
        Console.Error.WriteLine($"loaded {result.Loaded.Count} tensors from {path} (names: {result.Mapping})" +
                                (result.Converted.Count > 0 ? $", converted to {network.DType.ToString().ToLowerInvariant()}: {result.Converted.Count}" : ""));
    }
}
