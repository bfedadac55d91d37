using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// CIFAR-style augmentation of a minibatch of images <c>[B, C, H, W]</c>: each image is zero-padded by
/// <see cref="Padding"/> pixels (zero is the mean of standardised data), cropped back to H×W at a random offset and
/// flipped horizontally with probability ½. Random numbers come from its own seeded CPU generator (a few per image), whose
/// state checkpoints, so a resumed run draws the same crops. The crop is two gathers on the device, no per-image loop.
/// </summary>
public sealed class ImageAugmentation : IDisposable
{
    public const int Padding = 4;
    private readonly Generator _generator;

    public ImageAugmentation(long seed) => _generator = new Generator((ulong)seed);

    /// <summary>Throws unless <paramref name="inputs"/> are images <c>[N, C, H, W]</c>.</summary>
    public static void CheckImages(Tensor inputs)
    {
        if (inputs.dim() != 4)
            throw new ArgumentException($"Augment needs image inputs [N, C, H, W]; the training inputs are [{string.Join(", ", inputs.shape)}] " +
                                        "(load images unflattened, or turn Augment off)");
    }

    public Tensor Apply(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var offsets = randint(0, 2 * Padding + 1, [2, n], ScalarType.Int64, generator: _generator).to(x.device);
        var flip = rand([n], ScalarType.Float64, generator: _generator).lt(0.5).to(x.device);
        var padded = nn.functional.pad(x, [Padding, Padding, Padding, Padding]);
        var rows = offsets[0].unsqueeze(1).add(arange(h, ScalarType.Int64, x.device)); // [N, H]
        var cols = offsets[1].unsqueeze(1).add(arange(w, ScalarType.Int64, x.device)); // [N, W]
        var byRow = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2 * Padding));
        var crop = byRow.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w));
        return where(flip.view(n, 1, 1, 1), crop.flip(3), crop).MoveToOuterDisposeScope();
    }

    public IEnumerable<(string Name, Tensor Value)> SaveState()
    {
        yield return ("rng", _generator.get_state().cpu());
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) => _generator.set_state(state["rng"].cpu());

    public void Dispose() => _generator.Dispose();
}
