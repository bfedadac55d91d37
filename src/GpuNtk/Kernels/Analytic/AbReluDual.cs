using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// φ(x) = a·x for x &lt; 0, b·x for x ≥ 0 (LeakyReLU(α) is a = α, b = 1; ReLU a = 0, b = 1; |x| a = −1, b = 1).
/// Writing φ(x) = (b − a)·relu(x) + a·x and using E[u·relu(v)] = k12/2 gives
/// T = (b − a)²·T_relu + a·b·k12 and Ṫ = (b − a)²·Ṫ_relu + a·b.
/// </summary>
public sealed class AbReluDual(double a, double b) : IDualActivation
{
    private static readonly ReluDual Relu = new();

    public double A { get; } = a;
    public double B { get; } = b;

    public static AbReluDual LeakyRelu(double negativeSlope) => new(negativeSlope, 1.0);

    public string Name => FormattableString.Invariant($"abrelu(a={A},b={B})");

    public (Tensor T, Tensor? TDot) Apply(Tensor k12, Tensor k11, Tensor k22, bool derivative)
    {
        double s = (B - A) * (B - A), ab = A * B;
        var (t, tDot) = Relu.Apply(k12, k11, k22, derivative);
        t.mul_(s).add_(k12, alpha: ab);
        tDot?.mul_(s).add_(ab);
        return (t, tDot);
    }
}
