using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GpuNtk.Data;

/// <summary>Where the CIFAR-10 binary tarball comes from and what it must hash to.</summary>
/// <param name="Url">The download address.</param>
/// <param name="Md5">Expected MD5 (hex).</param>
/// <param name="Size">Expected size in bytes.</param>
/// <param name="ArchiveName">File name of the tarball under the data folder.</param>
/// <param name="RecordsPerFile">Records every extracted file must hold (null: any whole number).</param>
public sealed record Cifar10Source(string Url, string Md5, long Size, string ArchiveName = "cifar-10-binary.tar.gz", int? RecordsPerFile = Cifar10Format.OfficialRecordsPerFile)
{
    /// <summary>The official binary version from the University of Toronto.</summary>
    public static Cifar10Source Official { get; } =
        new("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171);
}

/// <summary>
/// Downloads, verifies (size + MD5) and extracts CIFAR-10 into <c>&lt;data&gt;/cifar-10-batches-bin/</c>. A tarball
/// already in the data folder is verified and used without downloading; a complete extracted set is left alone.
/// Offline, it fails fast with a message that says how to proceed. Never called implicitly.
/// </summary>
public sealed class Cifar10Download(ILogger? logger = null, HttpMessageHandler? handler = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Makes <c>&lt;dataDirectory&gt;/cifar-10-batches-bin</c> hold the verified set; returns its path.</summary>
    public async Task<string> EnsureAsync(string dataDirectory, Cifar10Source? source = null, IProgress<double>? progress = null,
        CancellationToken cancellation = default)
    {
        source ??= Cifar10Source.Official;
        Directory.CreateDirectory(dataDirectory);
        var target = Path.Combine(dataDirectory, Cifar10Format.DirectoryName);
        if (Cifar10Reader.HasAllFiles(target) && IsValid(target, source))
        {
            _logger.LogInformation("{Target} already holds the complete CIFAR-10 binary set", target);
            return target;
        }

        var archive = Path.Combine(dataDirectory, source.ArchiveName);
        if (File.Exists(archive))
        {
            try
            {
                FileChecksum.Verify(archive, source.Md5, source.Size);
                _logger.LogInformation("using the verified archive {Archive}", archive);
            }
            catch (InvalidDataException e)
            {
                _logger.LogWarning("{Message}; downloading it again", e.Message);
                File.Delete(archive);
            }
        }
        if (!File.Exists(archive))
        {
            await DownloadAsync(source, archive, progress, cancellation).ConfigureAwait(false);
            FileChecksum.Verify(archive, source.Md5, source.Size);
            _logger.LogInformation("verified {Archive}: {Size:N0} bytes, MD5 {Md5}", archive, source.Size, source.Md5);
        }

        var staging = Path.Combine(dataDirectory, $".extract-{Environment.ProcessId}");
        try
        {
            TarGzExtractor.Extract(archive, staging, cancellation);
            var extracted = Path.Combine(staging, Cifar10Format.DirectoryName);
            if (!Cifar10Reader.HasAllFiles(extracted))
                throw new InvalidDataException($"{archive} does not contain {Cifar10Format.DirectoryName}/ with the six binary files; it is not the CIFAR-10 binary version");
            using (var check = Cifar10Reader.ReadTest(extracted, source.RecordsPerFile)) { }
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            Directory.Move(extracted, target);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        _logger.LogInformation("extracted CIFAR-10 into {Target}", target);
        return target;
    }

    private static bool IsValid(string directory, Cifar10Source source)
    {
        try
        {
            using (Cifar10Reader.ReadTrain(directory, source.RecordsPerFile)) { }
            using (Cifar10Reader.ReadTest(directory, source.RecordsPerFile)) { }
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return false;
        }
    }

    private Task DownloadAsync(Cifar10Source source, string archive, IProgress<double>? progress, CancellationToken cancellation)
    {
        _logger.LogInformation("downloading {Url} ({Size:N0} bytes)", source.Url, source.Size);
        return HttpFileDownload.ToFileAsync(source.Url, archive, source.Size,
            $"If this machine is offline, fetch that file elsewhere, copy it to {archive} and run `gpuntk data cifar10` again " +
            "(it verifies the MD5 and extracts it), or train on `--data synthetic`.", progress, handler, cancellation);
    }
}
