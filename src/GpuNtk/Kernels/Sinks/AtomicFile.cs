namespace GpuNtk.Kernels.Sinks;

/// <summary>First-writer-wins publication of a fully written file, for workers racing to create the same file.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Moves <paramref name="temp"/> to <paramref name="path"/> unless <paramref name="path"/> exists, atomically (on
    /// Unix .NET links the new name, which fails if it exists, then unlinks the old one); when another process won the
    /// race, deletes <paramref name="temp"/>. Either way <paramref name="path"/> is complete afterwards.
    /// </summary>
    public static void PublishOrDiscard(string temp, string path)
    {
        try
        {
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
        }
    }
}
