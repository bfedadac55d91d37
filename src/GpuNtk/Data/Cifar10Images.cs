using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>
/// Raw CIFAR-10-format images as read from disk: <see cref="Pixels"/> <c>[N, 3, 32, 32]</c> uint8 and
/// <see cref="Labels"/> <c>[N]</c> int64, on the CPU until moved.
/// </summary>
public sealed class Cifar10Images : IDisposable
{
    public Cifar10Images(Tensor pixels, Tensor labels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != Cifar10Format.Channels || pixels.shape[2] != Cifar10Format.ImageSize
            || pixels.shape[3] != Cifar10Format.ImageSize || labels.dim() != 1 || labels.shape[0] != pixels.shape[0])
            throw new ArgumentException($"expected pixels [N, 3, 32, 32] and labels [N], got [{string.Join(", ", pixels.shape)}] and [{string.Join(", ", labels.shape)}]");
        Pixels = pixels;
        Labels = labels;
    }

    public Tensor Pixels { get; }
    public Tensor Labels { get; }
    public long Count => Labels.shape[0];

    /// <summary>The same images as a general <see cref="ImageSet"/>, which takes over the tensors.</summary>
    public ImageSet ToImageSet() => new(Pixels, Labels);

    public void Dispose()
    {
        Pixels.Dispose();
        Labels.Dispose();
    }
}
