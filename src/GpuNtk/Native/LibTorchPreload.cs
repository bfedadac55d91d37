using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace GpuNtk.Native;

/// <summary>
/// Uses a libtorch that is already on the machine (e.g. a PyTorch wheel's <c>torch/lib</c>) instead of the NuGet
/// natives: <c>GPUNTK_LIBTORCH=&lt;folder of libtorch*.so&gt;</c>. The libraries are loaded before TorchSharp starts,
/// so its shim binds to them by soname — the way TorchSharp documents for Python installs. This is how a CUDA
/// machine with PyTorch but no CUDA NuGet package runs GpuNtk on the GPU.
/// </summary>
public static partial class LibTorchPreload
{
    public const string EnvironmentVariable = "GPUNTK_LIBTORCH";
    public const string ExpectedVersion = "2.10.0";
    /// <summary>Set to 1 to load a libtorch whose version is not 2.10 anyway (at your own risk).</summary>
    public const string AllowMismatchVariable = "GPUNTK_LIBTORCH_ALLOW_MISMATCH";

    // Dependency order: each library's DT_NEEDED entries are already loaded when it is.
    private static readonly string[] s_order =
        ["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"];

    /// <summary>The outcome of a preload: which folder, which version it reports, whether CUDA libraries were found.</summary>
    public sealed record Result(string Folder, string? Version, bool HasCuda, IReadOnlyList<string> Loaded)
    {
        /// <summary>A warning when the version is unknown or differs from the 2.10 TorchSharp 0.107 was built for.</summary>
        public string? VersionWarning => Version is null
            ? $"{EnvironmentVariable}={Folder}: could not determine the libtorch version (no version.py or build-version); " +
              $"TorchSharp 0.107 needs libtorch {ExpectedVersion}"
            : !Version.StartsWith("2.10", StringComparison.Ordinal)
                ? $"{EnvironmentVariable}={Folder}: libtorch {Version} differs from {ExpectedVersion}, which TorchSharp 0.107 " +
                  "is built against; expect missing-symbol errors or crashes. Install PyTorch 2.10 (e.g. torch==2.10.0+cu128)."
                : null;
    }

    /// <summary>Preloads the folder named by <c>GPUNTK_LIBTORCH</c>, if set; null when it is not set.</summary>
    /// <exception cref="NativeLoadException">The folder is missing, lacks libtorch, or a library fails to load.</exception>
    public static Result? FromEnvironment()
    {
        var folder = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(folder) ? null : Load(folder);
    }

    public static Result Load(string folder)
    {
        if (!Directory.Exists(folder))
            throw new NativeLoadException($"{EnvironmentVariable}={folder}: no such folder. Point it at the folder holding libtorch.so " +
                                          "(for a pip install: python3 -c \"import torch, os; print(os.path.dirname(torch.__file__) + '/lib')\").");
        if (!File.Exists(Path.Combine(folder, "libtorch.so")))
            throw new NativeLoadException($"{EnvironmentVariable}={folder}: libtorch.so is not in that folder.");
        // Check before loading: a mismatched libtorch typically crashes inside TorchSharp's first call, past any message.
        var version = ReadVersion(folder);
        if (version is not null && !version.StartsWith("2.10", StringComparison.Ordinal)
            && Environment.GetEnvironmentVariable(AllowMismatchVariable) != "1")
            throw new NativeLoadException(
                $"{EnvironmentVariable}={folder} holds libtorch {version}, but TorchSharp 0.107 is built against libtorch {ExpectedVersion}; " +
                $"a different version crashes or misbehaves. Point it at a PyTorch 2.10 install (e.g. torch==2.10.0+cu128), " +
                $"or set {AllowMismatchVariable}=1 to try anyway.");
        var loaded = new List<string>();
        foreach (var name in s_order)
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            try
            {
                NativeLibrary.Load(path);
                loaded.Add(name);
            }
            catch (DllNotFoundException e)
            {
                throw new NativeLoadException($"{EnvironmentVariable}: loading {path} failed: {e.Message}", e);
            }
        }
        return new Result(folder, version, loaded.Contains("libtorch_cuda.so"), loaded);
    }

    /// <summary>The version of a libtorch folder: <c>../version.py</c> (PyTorch wheel) or <c>../build-version</c> (libtorch zip).</summary>
    public static string? ReadVersion(string folder)
    {
        var parent = Directory.GetParent(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar))?.FullName;
        if (parent is null) return null;
        var versionPy = Path.Combine(parent, "version.py");
        if (File.Exists(versionPy))
        {
            var m = VersionPyRegex().Match(File.ReadAllText(versionPy));
            if (m.Success) return m.Groups[1].Value;
        }
        var buildVersion = Path.Combine(parent, "build-version");
        return File.Exists(buildVersion) ? File.ReadAllText(buildVersion).Trim() : null;
    }

    [GeneratedRegex(@"__version__\s*=\s*['""]([^'""]+)['""]")]
    private static partial Regex VersionPyRegex();
}
