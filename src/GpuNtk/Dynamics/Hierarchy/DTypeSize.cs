using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

internal static class DTypeSize
{
    /// <summary>Bytes per element of a floating-point dtype (for memory budgets).</summary>
    public static long ElementSize(this ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => 8,
        ScalarType.Float16 or ScalarType.BFloat16 => 2,
        _ => 4,
    };
}
