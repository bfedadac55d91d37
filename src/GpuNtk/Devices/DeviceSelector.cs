using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Devices;

/// <summary>Turns user device names (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:i</c>) into devices, with clear errors.</summary>
public static class DeviceSelector
{
    /// <summary><c>auto</c> is the first CUDA device when one is usable, else the CPU.</summary>
    public static Device Parse(string text) => Parse(text, "--device");

    /// <summary>
    /// A list of devices to spread work over: <c>all</c> (<see cref="AllComputeDevices"/>) or names as for
    /// <see cref="Parse(string)"/> separated by commas, e.g. <c>cuda:0,cuda:1</c>. A device may repeat
    /// (<c>cpu,cpu</c>: two workers on it).
    /// </summary>
    public static IReadOnlyList<Device> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.Equals("all", StringComparison.OrdinalIgnoreCase)) return AllComputeDevices();
        var parts = t.Split(',');
        if (t.Length == 0 || parts.Any(p => p.Trim().Length == 0))
            throw new ArgumentException($"--devices '{text}': give all, or device names separated by commas without empty entries, e.g. cuda:0,cuda:1 or cpu,cpu");
        if (parts.Length > 1 && parts.Any(p => p.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)))
            throw new ArgumentException($"--devices {text}: 'all' stands alone (every visible CUDA device); do not mix it with names");
        return parts.Select(p => Parse(p, $"--devices {text}: entry")).ToList();
    }

    private static Device Parse(string text, string option)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "auto") return cuda.is_available() ? CUDA : CPU;
        if (t == "cpu") return CPU;
        if (t == "cuda" || t.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"{option} {text}: no CUDA device is usable. This build uses the CPU libtorch unless built " +
                                            "with -p:TorchBackend=cuda or run with GPUNTK_LIBTORCH=<PyTorch CUDA lib folder>; " +
                                            (option == "--device" ? "or use --device cpu" : "or list cpu"));
            if (t.Length > 5)
            {
                if (!int.TryParse(t[5..], out int index) || index < 0)
                    throw new ArgumentException($"{option} {text}: the CUDA index must be a non-negative integer");
                int count = cuda.device_count();
                if (index >= count) throw new ArgumentException($"{option} {text}: only {count} CUDA device(s) are visible (0…{count - 1})");
            }
            return device(t);
        }
        throw new ArgumentException($"{option} {text}: use auto, cpu, cuda or cuda:<index>");
    }

    /// <summary>All visible CUDA devices, or just the CPU when there is none (for spreading work over devices).</summary>
    public static IReadOnlyList<Device> AllComputeDevices() =>
        cuda.is_available() ? Enumerable.Range(0, cuda.device_count()).Select(i => device(DeviceType.CUDA, i)).ToList() : [CPU];
}
