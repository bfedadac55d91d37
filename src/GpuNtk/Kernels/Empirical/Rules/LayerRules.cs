using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>The rule registry: the first rule that knows the module's type, else the generic autograd rule.</summary>
internal static class LayerRules
{
    public static ILayerNtkRule For(nn.Module module) =>
        DenseNtkRule.TryCreate(module)
        ?? Conv2dNtkRule.TryCreate(module)
        ?? NormAffineNtkRule.TryCreate(module)
        ?? (ILayerNtkRule)new GenericModuleNtkRule(module);
}
