using GpuNtk.Native;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// Keeps float32 CPU convolutions of modules GpuNtk did not build correct. libtorch 2.10's oneDNN returns wrong float32
/// convolution input gradients for channel counts that do not fill its blocks (measured: relative errors 0.3–0.8 for a
/// TorchSharp <c>nn.Conv2d</c> 3→5 or 20→7; see <see cref="OneDnnSafeConv2d"/>). GpuNtk's own <see cref="Conv2dLayer"/>
/// sidesteps it with channels-last tensors; TorchSharp's convolution modules cannot be changed from outside, so for
/// them oneDNN is turned off process-wide (every CPU convolution then takes libtorch's plain path: correct, several
/// times slower), with a warning that says so and how to avoid the cost.
/// </summary>
public static class CpuConvolutionSafety
{
    /// <summary>
    /// Turns oneDNN off when <paramref name="module"/> runs in float32 on the CPU and contains a TorchSharp convolution;
    /// returns true when it did.
    /// </summary>
    public static bool Ensure(nn.Module module, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(module);
        var first = module.parameters().FirstOrDefault();
        if (first is null || first.device_type != DeviceType.CPU || first.dtype != ScalarType.Float32) return false;
        var convolutions = module.named_modules()
            .Where(m => m.module.GetType().Namespace == "TorchSharp.Modules" && m.module.GetType().Name.StartsWith("Conv", StringComparison.Ordinal))
            .Select(m => m.name.Length == 0 ? "(root)" : m.name).ToList();
        if (convolutions.Count == 0 || !LibTorchContext.Available || !LibTorchContext.OneDnnEnabled) return false;
        LibTorchContext.OneDnnEnabled = false;
        logger.LogWarning("oneDNN is off for this process: the module's TorchSharp convolutions ({Modules}) would get wrong float32 " +
                          "gradients from libtorch 2.10's oneDNN on the CPU. CPU convolutions are now correct but slower; to keep oneDNN, " +
                          "use float64 or GpuNtk's Conv2dLayer (channels-last), or run on CUDA", string.Join(", ", convolutions.Take(4)) +
                          (convolutions.Count > 4 ? ", …" : ""));
        return true;
    }
}
