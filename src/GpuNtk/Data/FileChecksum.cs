using System.Security.Cryptography;

namespace GpuNtk.Data;

/// <summary>Size and MD5 checks of downloaded files.</summary>
public static class FileChecksum
{
    /// <summary>The MD5 of <paramref name="path"/> as 32 lower-case hex digits.</summary>
    public static string Md5Hex(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming the file, what differs and the fix, unless
    /// <paramref name="path"/> has <paramref name="expectedSize"/> bytes and MD5 <paramref name="expectedMd5"/>.
    /// The size is checked first, so a partial download fails without hashing.
    /// </summary>
    public static void Verify(string path, string expectedMd5, long expectedSize)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file to verify", path);
        long size = DataFile.Length(path);
        if (size != expectedSize)
            throw new InvalidDataException($"{path} has {size:N0} bytes, expected {expectedSize:N0}: the download is incomplete or not the right file; delete it and download again");
        var md5 = Md5Hex(path);
        if (!string.Equals(md5, expectedMd5, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path} has MD5 {md5}, expected {expectedMd5.ToLowerInvariant()}: the file is corrupt; delete it and download again");
    }
}
