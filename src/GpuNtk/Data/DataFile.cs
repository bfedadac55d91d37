namespace GpuNtk.Data;

/// <summary>
/// File checks shared by the data readers. Sizes are read from the file a symbolic link points to (a link's own size
/// is the length of its target's name), so data folders made of links, as package managers and clusters build them,
/// are read like plain files.
/// </summary>
public static class DataFile
{
    /// <summary>The size in bytes of <paramref name="path"/>, following symbolic links; throws naming a dangling link.</summary>
    public static long Length(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null) return info.Length;
        var target = info.ResolveLinkTarget(returnFinalTarget: true);
        if (target is not FileInfo file || !file.Exists)
            throw new FileNotFoundException($"{path} is a symbolic link to {info.LinkTarget}, which does not exist; fix or remove the link", path);
        return file.Length;
    }
}
