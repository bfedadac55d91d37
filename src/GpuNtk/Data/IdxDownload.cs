using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GpuNtk.Data;

/// <summary>
/// Downloads the four official files of an <see cref="IdxDataset"/> into <c>&lt;data&gt;/&lt;DirectoryName&gt;/</c>,
/// verifies each against its published MD5 and checks that the set reads. A file already there with the right MD5 is
/// kept; one with another MD5 is downloaded again. Never called implicitly.
/// </summary>
public sealed class IdxDownload(ILogger? logger = null, HttpMessageHandler? handler = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Makes the folder hold the verified set; returns its path.</summary>
    /// <param name="baseUrl">Where to download from; null for <see cref="IdxDataset.BaseUrl"/>.</param>
    public async Task<string> EnsureAsync(IdxDataset set, string dataDirectory, string? baseUrl = null, IProgress<double>? progress = null,
        CancellationToken cancellation = default)
    {
        var target = Path.Combine(dataDirectory, set.DirectoryName);
        Directory.CreateDirectory(target);
        baseUrl ??= set.BaseUrl;
        if (!baseUrl.EndsWith('/')) baseUrl += "/";
        for (int i = 0; i < set.Files.Count; i++)
        {
            var file = set.Files[i];
            var path = Path.Combine(target, file.Name);
            if (File.Exists(path))
            {
                if (string.Equals(FileChecksum.Md5Hex(path), file.Md5, StringComparison.OrdinalIgnoreCase))
                {
                    _logger.LogInformation("{Path} is already there and verified", path);
                    continue;
                }
                _logger.LogWarning("{Path} does not have the official MD5 {Md5}; downloading it again", path, file.Md5);
                File.Delete(path);
            }
            var url = baseUrl + file.Name;
            _logger.LogInformation("downloading {Url}", url);
            int index = i;
            var fileProgress = progress is null ? null : new Progress<double>(f => progress.Report((index + f) / set.Files.Count));
            await HttpFileDownload.ToFileAsync(url, path, null,
                $"If this machine is offline, fetch {file.Name} elsewhere and copy it to {target}" +
                (set.SystemDirectory is null ? "" : $", or install the distribution's package (Debian: dataset-fashion-mnist, read from {set.SystemDirectory})") +
                ".", fileProgress, handler, cancellation).ConfigureAwait(false);
            var md5 = FileChecksum.Md5Hex(path);
            if (!string.Equals(md5, file.Md5, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(path);
                throw new InvalidDataException($"{url} has MD5 {md5}, expected {file.Md5}: the download is corrupt or the server sent another file; run `gpuntk data {set.Name}` again");
            }
            _logger.LogInformation("verified {Path}: MD5 {Md5}", path, md5);
        }
        var (train, test) = IdxImageReader.Read(set, target);
        _logger.LogInformation("{Title} in {Target}: {Train:N0} training and {Test:N0} test images", set.Title, target, train.Count, test.Count);
        train.Dispose();
        test.Dispose();
        return target;
    }
}
