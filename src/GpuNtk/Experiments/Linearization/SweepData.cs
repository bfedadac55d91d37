using static TorchSharp.torch;

namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// Flattened inputs <c>[N, d]</c> and regression targets <c>[N, O]</c> (e.g. ±1 for two classes) for training and
/// test, on the device and in the dtype of the run. Owns its tensors.
/// </summary>
public sealed record SweepData(Tensor TrainInputs, Tensor TrainTargets, Tensor TestInputs, Tensor TestTargets, string Description)
    : IDisposable
{
    public long Features => TrainInputs.shape[1];
    public long Outputs => TrainTargets.shape[1];

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
}
