using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>Total-norm gradient clipping on the device (no host sync, unlike a norm read back to decide).</summary>
public static class GradientClipping
{
    /// <summary>Scales every gradient by min(1, max/‖g‖) with ‖g‖ the L2 norm over all of them (PyTorch's clip_grad_norm_).</summary>
    public static void ClipTotalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToArray();
        if (grads.Length == 0) return;
        var total = stack(grads.Select(g => g.to(ScalarType.Float64).square().sum()).ToArray()).sum().sqrt();
        // PyTorch's ε keeps the scale finite for a zero gradient.
        var scale = total.add(1e-6).reciprocal().mul(maxNorm).clamp_max(1.0);
        using var noGrad = no_grad();
        foreach (var g in grads) g.mul_(scale.to(g.dtype));
    }
}
