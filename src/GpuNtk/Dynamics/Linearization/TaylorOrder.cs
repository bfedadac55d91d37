namespace GpuNtk.Dynamics.Linearization;

/// <summary>Order of the Taylor expansion of a network in its parameters around θ0.</summary>
public enum TaylorOrder
{
    /// <summary>f(θ0) + J·(θ − θ0): the linearized network of Lee et al. (2019).</summary>
    First = 1,
    /// <summary>f(θ0) + J·δ + ½·(δᵀH_a δ)_a with δ = θ − θ0: adds the curvature term, quadratic in δ.</summary>
    Second = 2,
}
