namespace GpuNtk.Data;

/// <summary>
/// Downloads one file to <c>&lt;path&gt;.part</c> and renames it into place only when complete, so an interrupted
/// download never leaves a file that looks whole. Offline, it fails fast (15 s connect, 60 s to the headers) with an
/// <see cref="IOException"/> that says what to do instead.
/// </summary>
public static class HttpFileDownload
{
    /// <param name="url">The address.</param>
    /// <param name="path">Where the file goes.</param>
    /// <param name="expectedSize">Bytes expected (for progress); null when unknown.</param>
    /// <param name="offlineRemedy">Appended to the error when the download fails.</param>
    /// <param name="handler">An HTTP handler (tests); null for a fresh socket handler.</param>
    public static async Task ToFileAsync(string url, string path, long? expectedSize, string offlineRemedy, IProgress<double>? progress,
        HttpMessageHandler? handler, CancellationToken cancellation)
    {
        var partial = path + ".part";
        using var client = handler is null
            ? new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) }, disposeHandler: true)
            : new HttpClient(handler, disposeHandler: false);
        try
        {
            using var headers = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, headers.Token);
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            long? total = expectedSize ?? response.Content.Headers.ContentLength;
            await using (var input = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false))
            await using (var output = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                var buffer = new byte[1 << 20];
                long done = 0;
                int read;
                while ((read = await input.ReadAsync(buffer, cancellation).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellation).ConfigureAwait(false);
                    done += read;
                    if (total is > 0) progress?.Report(Math.Min(1.0, (double)done / total.Value));
                }
            }
            File.Move(partial, path, overwrite: true);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
        {
            if (File.Exists(partial)) File.Delete(partial);
            throw new IOException($"could not download {url}: {e.Message}. {offlineRemedy}", e);
        }
        finally
        {
            if (cancellation.IsCancellationRequested && File.Exists(partial)) File.Delete(partial);
        }
    }
}
