using System.CommandLine;
using GpuNtk.Data;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Cli;

/// <summary>
/// The inputs of the kernel commands (<c>ntk</c>, <c>kernel</c>, <c>nth kernels</c>): a <c>.npy</c> array whose rows
/// fit the network, or seeded N(0, 1) draws. Non-finite values are refused by default: a NaN input makes a NaN kernel
/// that would otherwise be written without a word.
/// </summary>
internal static class KernelInputs
{
    public static Option<bool> AllowNonfinite() => new("--allow-nonfinite")
    {
        Description = "Accept NaN/Inf in --inputs/--inputs2 (refused by default: they make NaN kernel entries).",
    };

    /// <param name="path">The .npy file; null for <paramref name="count"/> random inputs.</param>
    /// <param name="option">The option that named the file, for messages.</param>
    public static Tensor Load(string? path, string option, ArchitectureSpec spec, int count, long seed, ScalarType dtype, Device device,
        bool allowNonfinite = false)
    {
        if (path is null)
        {
            if (count < 1) throw new ArgumentException("--random must be ≥ 1");
            using var g = new Generator((ulong)seed + 1);
            using var draw = randn([count, spec.InputSize], ScalarType.Float64, CPU, generator: g); // freed now, not at the next GC
            return draw.to(dtype, device);
        }
        using var x = NpyFile.Read(path);
        if (x.dim() < 2 || x.shape[0] < 1 || x.numel() / x.shape[0] != spec.InputSize)
            throw new ArgumentException($"{option} {path}: shape [{string.Join(", ", x.shape)}] does not fit {spec} " +
                                        $"(expected [N, {spec.InputSize}] or [N, …] with {spec.InputSize} features per example)");
        if (!allowNonfinite && x.is_floating_point())
        {
            using var bad = isfinite(x).logical_not_();
            long count_ = bad.sum().item<long>();
            if (count_ > 0)
            {
                using var where = nonzero(bad.reshape(x.shape[0], -1).any(1)).reshape(-1);
                throw new ArgumentException($"{option} {path}: {count_} NaN/Inf value(s), first in row {where[0].item<long>()}; " +
                                            "clean the data (e.g. numpy.nan_to_num) or pass --allow-nonfinite to compute anyway");
            }
        }
        return x.to(dtype, device);
    }
}
