using GpuNtk.Kernels.Sharding;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Sinks;

/// <summary>
/// Where the tiles of a kernel go: memory (<see cref="MemoryKernelSink"/>) or a preallocated <c>.npy</c> file shared by
/// any number of workers (<see cref="NpyKernelFile"/>); <see cref="KernelSinks"/> picks one by output path. A tiled
/// computation asks <see cref="Contains"/> before computing a tile (so a rerun computes only missing ones) and hands
/// every block to <see cref="Write"/>, which also fills the mirror image of an off-diagonal tile of a symmetric kernel.
/// </summary>
public interface IKernelSink : IDisposable
{
    KernelLayout Layout { get; }

    /// <summary>True when <paramref name="tile"/> is already stored (by this or an earlier run, or another worker).</summary>
    bool Contains(KernelTile tile);

    /// <summary>
    /// Stores <paramref name="block"/>, the kernel on <paramref name="tile"/> (<c>[rows, columns]</c> or
    /// <c>[rows, columns, O, O]</c>, any device, the layout's dtype). Safe to call from several threads for distinct tiles.
    /// </summary>
    void Write(KernelTile tile, Tensor block);
}
