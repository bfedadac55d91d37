namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The cost model that picks, per convolution layer and block of Θ, between its two contractions (formulas derived in
/// src/GpuNtk/Kernels/README.md, "Convolutions"). Shapes: N1, N2 examples (N2 = N1 and one side when
/// <see cref="SameCall"/>), O outputs, L output pixels, D = C_in·k² patch size, C = C_out output channels.
/// <list type="bullet">
/// <item><b>Weight gradients</b> (per-example Jacobians J = G·Pᵀ, <c>[N, O, C·D]</c>, then J1·J2ᵀ):
/// 2·N·O·C·L·D per side to form, then 2·N1·N2·O²·C·D (full) or 2·N1·N2·O·C·D (traced) to contract; diagonal
/// N1·N2 → N.</item>
/// <item><b>Pixel pairs</b> (patch Gram K_ij = P_iᵀP_j, <c>[L, L]</c>, times signal Gram): 2·N1·N2·L²·D for K, then
/// traced 2·N1·N2·L²·O·C (Σ over outputs and channels in one GEMM) + N1·N2·L², full 2·N1·N2·L²·O·C (T = K·G2ᵀ) +
/// 2·N1·N2·O²·C·L; diagonal N1·N2 → N.</item>
/// </list>
/// Bytes count the intermediates each writes and reads once (Jacobians or K and T), weighted by
/// <see cref="FlopsPerByte"/>; the cheaper total wins. Pixel pairs win when L² is small against O·C·D/(D + O·C) —
/// late, spatially small layers with many channels — and lose on large images.
/// </summary>
internal readonly record struct ConvNtkCost(long N1, long N2, long O, long L, long D, long C, bool SameCall, NtkOutput Output, long ElementSize)
{
    /// <summary>Rough machine balance (FLOPs one byte of memory traffic is worth) of CPUs and GPUs alike, within 2×.</summary>
    public const double FlopsPerByte = 8;

    private bool Diagonal => Output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace;
    private bool Traced => Output is NtkOutput.Trace or NtkOutput.DiagonalTrace;

    /// <summary>Example pairs the block covers: N1·N2, or N on the diagonal.</summary>
    private double Pairs => Diagonal ? N1 : (double)N1 * N2;

    private double Sides => SameCall || Diagonal ? N1 : (double)N1 + N2;

    public double WeightGradientFlops =>
        2.0 * Sides * O * C * L * D + 2.0 * Pairs * (Traced ? O : O * O) * C * D;

    public double WeightGradientBytes => ElementSize * (2.0 * Sides * O * C * D + Sides * D * L);

    public double PixelPairFlops =>
        2.0 * Pairs * L * L * D + 2.0 * Pairs * L * L * O * C + (Traced ? Pairs * L * L : 2.0 * Pairs * O * O * C * L);

    public double PixelPairBytes => ElementSize * (Pairs * L * L * 2.0 + (Traced ? Pairs * L * L : Pairs * O * C * L) + Sides * D * L);

    public double WeightGradientCost => WeightGradientFlops + FlopsPerByte * WeightGradientBytes;

    public double PixelPairCost => PixelPairFlops + FlopsPerByte * PixelPairBytes;

    public bool PixelPairsWin => PixelPairCost < WeightGradientCost;
}
