using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// Gauss–Hermite rules for the standard normal measure: E[f(Z)] ≈ Σᵢ wᵢ·f(zᵢ), exact for polynomials of degree
/// &lt; 2n. Nodes and weights come from the Golub–Welsch eigenproblem of the (probabilists') Hermite Jacobi matrix,
/// computed once in float64 on the CPU.
/// </summary>
public static class GaussHermite
{
    /// <summary>The <paramref name="order"/>-point rule: nodes ascending, weights summing to 1.</summary>
    public static (double[] Nodes, double[] Weights) Rule(int order)
    {
        if (order < 1 || order > 512) throw new ArgumentOutOfRangeException(nameof(order), order, "use 1 ≤ order ≤ 512");
        using var scope = NewDisposeScope();
        // He_{k+1} = x·He_k − k·He_{k−1}: symmetric Jacobi matrix with zero diagonal and off-diagonal √k.
        var off = arange(1, order, ScalarType.Float64).sqrt_();
        var jacobi = diag(off, 1) + diag(off, -1);
        var (values, vectors) = linalg.eigh(jacobi);
        var weights = vectors[0].square();
        weights.div_(weights.sum());
        return (values.data<double>().ToArray(), weights.data<double>().ToArray());
    }
}
