using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// φ = erf (Williams 1997): T = (2/π)·arcsin(2·k12/√((1 + 2·k11)(1 + 2·k22))) and, from φ'(x) = (2/√π)·e^(−x²),
/// Ṫ = (4/π)/√((1 + 2·k11)(1 + 2·k22) − 4·k12²).
/// </summary>
public sealed class ErfDual : IDualActivation
{
    public string Name => "erf";

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        using var scope = NewDisposeScope();
        var prod = (2 * k11 + 1) * (2 * k22 + 1);
        var t = (2 * k12).div_(prod.sqrt()).clamp_(-1, 1).asin_().mul_(2 / Math.PI);
        Tensor? tDot = derivative ? prod.sub_(k12.square().mul_(4)).rsqrt_().mul_(4 / Math.PI) : null;
        t.MoveToOuterDisposeScope();
        tDot?.MoveToOuterDisposeScope();
        return (t, tDot);
    }
}
