using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace GpuNtk.Native;

/// <summary>
/// Makes TorchSharp's native libraries load, or fails with one clear error. On hosts whose libstdc++ lacks
/// GLIBCXX_3.4.32 (GCC 12: Debian 12, Ubuntu 22.04) the copy of <c>libLibTorchSharp.so</c> in the application
/// folder is replaced by a copy with that single requirement marked weak (see <see cref="WeakVersionPatch"/>).
/// The NuGet package cache is never touched: the patched bytes are written to a new file beside the copy and renamed
/// over it, so even a hard link or symbolic link into the cache is replaced, not written through.
/// </summary>
public static class TorchNative
{
    public const string ShimFileName = "libLibTorchSharp.so";
    private static readonly Lock s_gate = new();
    private static bool s_loaded;

    /// <summary>Runs when the GpuNtk assembly is first used: prepares the shim before TorchSharp looks for it.</summary>
#pragma warning disable CA2255 // Deliberate: the shim must be fixed before TorchSharp's first P/Invoke, whoever makes it.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void PrepareOnLoad()
    {
        // Before libtorch's first CPU allocation, which reads the huge-page switch once.
        HostAllocator.TuneForLargeTensors();
        try { PrepareShim(AppContext.BaseDirectory); }
        catch (Exception) { /* reported with full context by EnsureLoaded */ }
        // GPUNTK_LIBTORCH must be in the process before TorchSharp's own loader runs, and code can reach TorchSharp
        // before EnsureLoaded (a test case source building tensors during test discovery): load it here too.
        try { LibTorchPreload.FromEnvironment(); }
        catch (Exception) { /* reported with full context by EnsureLoaded */ }
    }

    /// <summary>Loads libtorch through TorchSharp (CPU backend), patching the shim first where needed.</summary>
    /// <exception cref="NativeLoadException">The native libraries cannot be loaded; the message says why and what to do.</exception>
    public static void EnsureLoaded()
    {
        lock (s_gate)
        {
            if (s_loaded) return;
            string? shim = null;
            try
            {
                shim = PrepareShim(AppContext.BaseDirectory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
            {
                throw new NativeLoadException(
                    $"Could not prepare {ShimFileName} for this host: {e.Message}. " +
                    "Remedy: make the application folder writable for one run, or install libstdc++ from GCC 13 or newer.", e);
            }
            LibTorchPreload.Result? preload;
            try
            {
                preload = LibTorchPreload.FromEnvironment();
                torch.InitializeDeviceType(DeviceType.CPU);
                s_loaded = true;
            }
            catch (Exception e) when (e is not NativeLoadException)
            {
                throw new NativeLoadException(DescribeFailure(shim, e), e);
            }
            PreloadWarning = preload?.VersionWarning;
            // CUDA natives come from -p:TorchBackend=cuda or a GPUNTK_LIBTORCH with libtorch_cuda.so; else stay on CPU.
            CudaInitialized = torch.TryInitializeDeviceType(DeviceType.CUDA) && torch.cuda.is_available();
            Devices.PrecisionSettings.SetTf32(false);
        }
        _ = LibTorchContext.Available; // its initializer turns NNPACK off; outside the lock, since it calls EnsureLoaded
    }

    /// <summary>Whether the CUDA backend loaded and a device is visible.</summary>
    public static bool CudaInitialized { get; private set; }

    /// <summary>Set when <c>GPUNTK_LIBTORCH</c> points at a libtorch whose version is unknown or not 2.10 (callers log it).</summary>
    public static string? PreloadWarning { get; private set; }

    /// <summary>
    /// Finds the shim under <paramref name="appDirectory"/> and, when the host lacks GLIBCXX_3.4.32 and the shim needs
    /// it, replaces it by a patched copy. Returns the shim's path (null when there is none, e.g. not Linux).
    /// </summary>
    public static string? PrepareShim(string appDirectory)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
        var shim = FindShim(appDirectory);
        if (shim is null) return null;
        var patch = WeakVersionPatch.LibStdCxx3432;
        var bytes = File.ReadAllBytes(shim);
        var image = ElfImage.Parse(bytes);
        bool needs = image.VersionNeeds().Any(n => n.File == patch.File && n.Version == patch.Version && !n.IsWeak);
        if (!needs) return shim;
        if (HostLibraries.DefinedVersions(patch.File).Contains(patch.Version)) return shim;
        RefuseIfInPackageCache(shim);
        if (patch.Apply(image) == PatchOutcome.Patched) ReplaceAtomically(shim, image.Bytes);
        return shim;
    }

    /// <summary>The shim in the app folder: RID-specific builds put it beside the assemblies, others under runtimes/.</summary>
    public static string? FindShim(string appDirectory)
    {
        string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        string[] candidates =
        [
            Path.Combine(appDirectory, "runtimes", rid, "native", ShimFileName),
            Path.Combine(appDirectory, ShimFileName),
        ];
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>Version requirements of <paramref name="elfPath"/> on libstdc++/glibc that the host does not define.</summary>
    public static IReadOnlyList<VersionNeed> UnmetRequirements(string elfPath)
    {
        var image = ElfImage.Parse(File.ReadAllBytes(elfPath));
        var hostVersions = new Dictionary<string, IReadOnlySet<string>>();
        var unmet = new List<VersionNeed>();
        foreach (var need in image.VersionNeeds())
        {
            if (!need.File.StartsWith("libstdc++", StringComparison.Ordinal) && !need.File.StartsWith("libc.", StringComparison.Ordinal)
                && !need.File.StartsWith("libm.", StringComparison.Ordinal) && !need.File.StartsWith("libgcc_s", StringComparison.Ordinal))
                continue;
            if (!hostVersions.TryGetValue(need.File, out var defined))
                hostVersions[need.File] = defined = HostLibraries.DefinedVersions(need.File);
            if (defined.Count > 0 && !defined.Contains(need.Version) && !need.IsWeak) unmet.Add(need);
        }
        return unmet;
    }

    private static void RefuseIfInPackageCache(string path)
    {
        string full = Path.GetFullPath(path);
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (full.StartsWith(Path.GetFullPath(cache) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new IOException($"{full} lies in the NuGet package cache, which GpuNtk never modifies");
    }

    private static void ReplaceAtomically(string path, byte[] bytes)
    {
        string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllBytes(temp, bytes);
        try
        {
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static string DescribeFailure(string? shim, Exception e)
    {
        var lines = new List<string> { $"TorchSharp's native library {ShimFileName} (libtorch 2.10.0) could not be loaded." };
        if (shim is null)
        {
            lines.Add($"It was not found under {AppContext.BaseDirectory}. Remedy: build with the libtorch package for this " +
                      "OS (the default build references libtorch-cpu-linux-x64 on Linux; -p:TorchBackend=cuda for CUDA).");
        }
        else
        {
            var unmet = UnmetRequirements(shim);
            if (unmet.Count > 0)
                lines.Add("The host lacks: " + string.Join(", ", unmet.Select(n => $"{n.Version} ({n.File})")) +
                          ". Remedy: install a newer libstdc++/glibc (GCC 13+ runtime), or use Debian 13 / Ubuntu 24.04.");
            else if (!File.Exists(Path.Combine(Path.GetDirectoryName(shim)!, "libtorch.so"))
                     && Environment.GetEnvironmentVariable(LibTorchPreload.EnvironmentVariable) is null)
                lines.Add($"libtorch is not beside {shim} (a bundle published without libtorch?). Remedy: set " +
                          $"{LibTorchPreload.EnvironmentVariable}=<folder holding libtorch.so of PyTorch/libtorch 2.10>.");
            else
                lines.Add($"Library: {shim}. Remedy: check that libtorch's libraries sit beside it and match version 2.10.0.");
        }
        lines.Add("Underlying error: " + FirstLine(e));
        return string.Join(Environment.NewLine, lines);
    }

    private static string FirstLine(Exception e)
    {
        var msg = (e.InnerException ?? e).Message;
        int nl = msg.IndexOf('\n');
        return nl < 0 ? msg : msg[..nl];
    }
}

/// <summary>libtorch/TorchSharp native libraries could not be loaded; the message names the library and the remedy.</summary>
public sealed class NativeLoadException(string message, Exception? inner = null) : Exception(message, inner);
