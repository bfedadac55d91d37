using static TorchSharp.torch;

namespace GpuNtk.Devices;

/// <summary>
/// TF32 tensor-core math on NVIDIA GPUs trades ~3 decimal digits of float32 matmul precision for speed. GpuNtk turns it
/// off by default because kernel comparisons (NTK change, linearization error) need full float32 accuracy.
/// </summary>
public static class PrecisionSettings
{
    public static void SetTf32(bool allowed)
    {
        if (!cuda.is_available()) return;
        backends.cuda.matmul.allow_tf32 = allowed;
        backends.cudnn.allow_tf32 = allowed;
    }
}
