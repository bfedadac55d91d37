using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GpuNtk.Data;

/// <summary>
/// Resolves a <c>--data</c> value: <c>cifar10</c>, <c>synthetic</c>, or <c>auto</c> — CIFAR-10 when
/// <c>&lt;root&gt;/cifar-10-batches-bin</c> exists, else the synthetic CIFAR-format set with a warning banner, so that a
/// run on stand-in data is never mistaken for a CIFAR-10 run. Nothing is downloaded here.
/// </summary>
public static class DataSourceChoice
{
    public static DataSource Resolve(string text, string root, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return DataOptions.ParseSource(text);
        var cifar = Path.Combine(root, Cifar10Format.DirectoryName);
        if (Directory.Exists(cifar)) return DataSource.Cifar10;
        (logger ?? NullLogger.Instance).LogWarning("{Banner}", string.Join(Environment.NewLine,
            "",
            "  ************************************************************************************",
            $"  *  CIFAR-10 not found in {cifar}: using the SYNTHETIC CIFAR-format set",
            $"  *  ({Path.Combine(root, SyntheticCifar10.DirectoryName)}), not real images.",
            "  *  Run `gpuntk data cifar10` once (170 MB download) to use CIFAR-10.",
            "  ************************************************************************************"));
        return DataSource.Synthetic;
    }
}
