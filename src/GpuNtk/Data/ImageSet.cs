using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Raw images as read from disk: <see cref="Pixels"/> <c>[N, C, H, W]</c> uint8 and <see cref="Labels"/> <c>[N]</c>
/// int64 class indices, on the CPU until moved. Owns its tensors.
/// </summary>
public sealed class ImageSet : IDisposable
{
    public ImageSet(Tensor pixels, Tensor labels)
    {
        if (pixels.dim() != 4 || pixels.dtype != ScalarType.Byte || labels.dim() != 1 || labels.shape[0] != pixels.shape[0])
            throw new ArgumentException($"expected uint8 pixels [N, C, H, W] and labels [N], got {pixels.dtype} [{string.Join(", ", pixels.shape)}] " +
                                        $"and [{string.Join(", ", labels.shape)}]");
        Pixels = pixels;
        Labels = labels.dtype == ScalarType.Int64 ? labels : labels.to(ScalarType.Int64);
    }

    public Tensor Pixels { get; }
    public Tensor Labels { get; }
    public long Count => Labels.shape[0];

    public void Dispose()
    {
        Pixels.Dispose();
        Labels.Dispose();
    }
}
