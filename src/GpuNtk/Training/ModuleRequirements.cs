using GpuNtk.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// What the engine needs of a module and its data, checked once before a run. The NTK telemetry (Θ(x, x′) =
/// J(x)J(x′)ᵀ per pair of examples), the linearized model and η_max all assume that the output for one example depends
/// on that example only; a BatchNorm in training mode normalises by batch statistics, which couples the examples of a
/// batch (and makes the probe's outputs depend on the probe's size), so it is refused.
/// </summary>
internal static class ModuleRequirements
{
    public static void Check(nn.Module<Tensor, Tensor> module, LabeledData train, LabeledData test)
    {
        foreach (var (name, m) in module.named_modules())
            if (m.training && m.GetType().Name.StartsWith("BatchNorm", StringComparison.Ordinal))
                throw new ArgumentException($"the module's {m.GetType().Name} '{(name.Length == 0 ? "(root)" : name)}' is in training mode: batch statistics make each " +
                                            "example's output depend on the rest of its batch, which the per-example NTK telemetry and the linearized model " +
                                            "cannot describe; call .eval() on it (running statistics), or use GroupNorm/LayerNorm, or no normalisation");
        var parameters = module.parameters().Where(p => p.requires_grad).ToArray();
        if (parameters.Length == 0) throw new ArgumentException("the module has no trainable parameters (none requires_grad)");
        var p0 = parameters[0];
        foreach (var (set, what) in new[] { (train, "training"), (test, "test") })
        {
            if (set.Inputs.dtype != p0.dtype || set.Inputs.device_type != p0.device_type || set.Inputs.device_index != p0.device_index)
                throw new ArgumentException($"the {what} inputs are {set.Inputs.dtype} on {set.Inputs.device}, the module's parameters {p0.dtype} on {p0.device}: " +
                                            "load the data (or move the module) to the same dtype and device");
            if (!set.Inputs.shape.Skip(1).SequenceEqual(train.Inputs.shape.Skip(1)))
                throw new ArgumentException($"test inputs [{string.Join(", ", test.Inputs.shape)}] and training inputs [{string.Join(", ", train.Inputs.shape)}] differ in shape");
        }
        if (test.Outputs != train.Outputs) throw new ArgumentException($"training targets have {train.Outputs} outputs, test targets {test.Outputs}");
    }
}
