using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Autograd;

/// <summary>
/// λ_max of the full NTK Θ(x, x) <c>[N·O, N·O]</c> by power iteration on <see cref="NtkVectorProduct"/> — never forms
/// J or Θ, so it serves sets too large for Θ (η_max = 2·N·O/λ_max, src/GpuNtk/Kernels/README.md). The one λ_max
/// estimator: the trainer's step-size guide and the linearization sweep call it.
/// </summary>
public static class NtkEigenvalue
{
    /// <summary>
    /// The Rayleigh quotient vᵀΘv of the power iterate, stopped once two successive estimates agree to
    /// <paramref name="tolerance"/> (relative; 0 runs all <paramref name="maxIterations"/>). The start vector is
    /// Gaussian from <paramref name="seed"/>, drawn in float64 on the CPU so every device and dtype starts alike.
    /// </summary>
    /// <remarks>
    /// A Rayleigh quotient approaches λ_max from below with twice the digits of the iterate; near-degenerate top
    /// eigenvalues (one per output at large width) make the last digits converge slowly, but the first two come within a
    /// few iterations — enough for a step-size guide. Pass a small tolerance and many iterations for an exact value.
    /// </remarks>
    public static double Largest(nn.Module<Tensor, Tensor> model, Tensor x, int maxIterations = 20, double tolerance = 1e-3, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxIterations < 1) throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "give at least one power iteration");
        var ps = model.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToArray();
        if (ps.Length == 0) throw new ArgumentException("the model has no trainable parameters", nameof(model));
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var product = new NtkVectorProduct(model, ps, x);
        var f = product.Output;
        using var generator = new Generator((ulong)seed);
        var v = randn(f.shape, ScalarType.Float64, generator: generator).to(f.dtype, f.device);
        v.div_(v.norm());
        double lambda = 0;
        for (int it = 0; it < maxIterations; it++)
        {
            using var inner = NewDisposeScope();
            var thetaV = product.Multiply(v);
            double next = thetaV.mul(v).sum().to(ScalarType.Float64).item<double>();
            v = thetaV.div(thetaV.norm()).MoveToOuterDisposeScope();
            bool converged = it > 0 && Math.Abs(next - lambda) <= tolerance * Math.Abs(next);
            lambda = next;
            if (converged) break;
        }
        return lambda;
    }
}
