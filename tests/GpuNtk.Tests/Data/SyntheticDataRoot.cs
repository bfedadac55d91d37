using GpuNtk.Data;

namespace GpuNtk.Tests.Data;

/// <summary>A temporary data folder holding a small synthetic CIFAR-format set in <c>synthetic/</c>; deleted on dispose.</summary>
internal sealed class SyntheticDataRoot : IDisposable
{
    private readonly TempDirectory _dir = new();

    public SyntheticDataRoot(SyntheticCifar10Options options) =>
        SyntheticCifar10.Write(System.IO.Path.Combine(_dir.Path, SyntheticCifar10.DirectoryName), options);

    /// <summary>The data folder (the <c>Root</c> of <see cref="DataOptions"/>).</summary>
    public string Path => _dir.Path;

    public void Dispose() => _dir.Dispose();
}
