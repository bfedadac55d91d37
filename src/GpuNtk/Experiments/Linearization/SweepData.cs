using GpuNtk.Data;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// Flattened inputs <c>[N, d]</c> and regression targets <c>[N, O]</c> (±1 for two classes) for training and test, on
/// the device and in the dtype of the run. Owns its tensors.
/// </summary>
public sealed record SweepData(Tensor TrainInputs, Tensor TrainTargets, Tensor TestInputs, Tensor TestTargets, string Description)
    : IDisposable
{
    public long Features => TrainInputs.shape[1];
    public long Outputs => TrainTargets.shape[1];

    /// <summary>
    /// A two-class subset of an image set (CIFAR-10, the synthetic CIFAR-format set, MNIST, Fashion-MNIST), read and
    /// standardised by the trainer's <see cref="DatasetLoader"/> (seeded subsets, per-channel statistics of the training
    /// examples), then prepared as in Lee et al. (2019): optionally average-pooled to <paramref name="imageSize"/>²,
    /// flattened, each input scaled to ‖x‖ = √d, and one output with target −1 for the first class and +1 for the second.
    /// </summary>
    /// <param name="options">Source, folder, the two classes, sizes and seed (targets and flattening are set here).</param>
    /// <param name="imageSize">Side of the images fed to the FCN: the stored side (32, or 28 for MNIST) or a divisor of it (average pooling).</param>
    public static SweepData Load(DataOptions options, int imageSize, ScalarType dtype, Device device, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckClasses(options);
        using var prepared = DatasetLoader.Load(options with { Targets = TargetEncoding.Signed, Flatten = false }, 1, dtype, device, logger);
        return FromPrepared(prepared, imageSize);
    }

    /// <summary>The preparation of <see cref="Load"/> applied to already loaded images <c>[N, C, H, H]</c> with ±1 targets <c>[N, 1]</c>.</summary>
    public static SweepData FromPrepared(PreparedData data, int imageSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckClasses(data.Options);
        if (data.Train.Inputs.dim() != 4 || data.Train.Outputs != 1)
            throw new ArgumentException("the sweep prepares unflattened images [N, C, H, W] with one ±1 target: load them with Flatten = false, " +
                                        "outputs 1 and TargetEncoding.Signed");
        int side = (int)data.Train.Inputs.shape[^1];
        CheckImageSize(imageSize, side);
        using var scope = NewDisposeScope();
        Tensor Features(Tensor images)
        {
            int pool = side / imageSize;
            var x = pool > 1 ? nn.functional.avg_pool2d(images, pool) : images;
            x = x.reshape(x.shape[0], -1).to(ScalarType.Float64);
            // Equal input norms make Θ(x, x) the same for every example, as in the paper's experiments.
            x = x.div(x.square().sum(1, keepdim: true).sqrt().clamp_min(1e-12)).mul_(Math.Sqrt(x.shape[1]));
            return x.to(images.dtype).contiguous().MoveToOuterDisposeScope();
        }
        var xTrain = Features(data.Train.Inputs);
        var xTest = Features(data.Test.Inputs);
        long d = xTrain.shape[1];
        var names = data.Options.Classes!.Select(c => data.Options.Source == DataSource.Synthetic ? $"class {c}" : DataOptions.ClassNames(data.Options.Source)[c]);
        string description = data.Describe() + $"; {string.Join(" (−1) vs ", names)} (+1)" +
                             (imageSize < side ? $", average-pooled to {data.Train.Inputs.shape[1]}×{imageSize}×{imageSize}" : "") +
                             $", flattened, ‖x‖ = √{d}";
        return new SweepData(xTrain, data.Train.Targets.clone().MoveToOuterDisposeScope(), xTest, data.Test.Targets.clone().MoveToOuterDisposeScope(),
            description);
    }

    public void Validate()
    {
        if (TrainInputs.dim() != 2 || TestInputs.dim() != 2 || TrainInputs.shape[1] != TestInputs.shape[1])
            throw new ArgumentException("sweep inputs must be flattened [N, d] with the same d for training and test");
        if (TrainTargets.dim() != 2 || TestTargets.dim() != 2 || TrainTargets.shape[0] != TrainInputs.shape[0] ||
            TestTargets.shape[0] != TestInputs.shape[0] || TrainTargets.shape[1] != TestTargets.shape[1])
            throw new ArgumentException("sweep targets must be [N, O] matching their inputs");
    }

    public void Dispose()
    {
        TrainInputs.Dispose();
        TrainTargets.Dispose();
        TestInputs.Dispose();
        TestTargets.Dispose();
    }

    private static void CheckClasses(DataOptions options)
    {
        if (options.Classes is not { Length: 2 })
            throw new ArgumentException($"--classes: the linearization sweep is a two-class task (one output, ±1 targets); got " +
                                        $"{(options.Classes is null ? "all ten classes" : string.Join(",", options.Classes))}; give two, e.g. --classes airplane,automobile");
    }

    private static void CheckImageSize(int imageSize, int side)
    {
        if (imageSize < 1 || imageSize > side || side % imageSize != 0)
            throw new ArgumentException($"--image-size {imageSize}: must divide the images' side {side} ({side} keeps them as stored; " +
                                        $"{string.Join(", ", Enumerable.Range(1, side - 1).Where(s => side % s == 0).Reverse())} average-pool them)");
    }
}
