using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Analytic;

/// <summary>
/// A fused CPU kernel for the commonest step of the grid pass, ReLU followed by a dense layer on float32 features:
/// one SIMD pass computes K' = σ_w²·T(K) + σ_b² and Θ' = K' + σ_w²·Θ·Ṫ(K) in place, where the separate tensor ops
/// take about twenty passes over the block (the elementwise part is memory-bound on CPUs). Same formulas as
/// <see cref="ReluDual"/>, <see cref="ActivationKernelLayer"/> and <see cref="DenseKernelLayer"/>; arccos by the
/// Cephes single-precision rational form (error ≤ 1.5e-7 relative, like libtorch's own). Anything else — GPUs, float64,
/// images, the pair pass — takes the tensor path. <see cref="AnalyticKernelOptions.FuseCpuKernels"/> turns it off.
/// </summary>
internal static class CpuReluDenseFusion
{
    public static bool CanFuse(IKernelLayer layer, IKernelLayer next, KernelState state, KernelContext context) =>
        context.FuseCpuKernels && Vector256.IsHardwareAccelerated
        && layer is ActivationKernelLayer { Dual: ReluDual } && next is DenseKernelLayer
        && !state.IsPairs && !state.IsSpatial
        && state.Nngp.device_type == TorchSharp.DeviceType.CPU && state.Nngp.dtype == ScalarType.Float32
        && state.Nngp.dim() == 2 && state.Nngp.is_contiguous() && state.Nngp.numel() < int.MaxValue / sizeof(float)
        && (state.Ntk is null || (state.Ntk.is_contiguous() && state.Ntk.dtype == ScalarType.Float32));

    /// <summary>Applies <paramref name="activation"/> (ReLU) and <paramref name="dense"/> to <paramref name="state"/>, overwriting its tensors.</summary>
    public static unsafe KernelState Apply(ActivationKernelLayer activation, DenseKernelLayer dense, KernelState state, KernelContext context)
    {
        var (var1, var2) = context.Variances(activation, state);
        long rows = state.Nngp.shape[0], cols = state.Nngp.shape[1];
        var (s1, inv1) = RootsAndInverses(var1);
        var (s2, inv2) = RootsAndInverses(var2);
        // Θ is still zero (null) before the first parameterized layer: then Θ' = K', written into a fresh tensor.
        bool trackNtk = context.TrackNtk;
        var ntkOut = !trackNtk ? null : state.Ntk ?? empty_like(state.Nngp);
        nint k = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(state.Nngp.bytes));
        nint thetaIn = state.Ntk is null || !trackNtk ? 0 : (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(state.Ntk.bytes));
        nint thetaOut = ntkOut is null ? 0 : (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(ntkOut.bytes));
        var p = new RowParameters((float)(dense.WStd * dense.WStd), (float)(dense.BStd * dense.BStd), s2, inv2, (int)cols);
        Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, i =>
        {
            long offset = i * cols;
            Row((float*)k + offset, thetaIn == 0 ? null : (float*)thetaIn + offset, thetaOut == 0 ? null : (float*)thetaOut + offset,
                s1[i], inv1[i], p);
        });
        return state with { Nngp = state.Nngp, Ntk = ntkOut };
    }

    private sealed record RowParameters(float W2, float B2, float[] S2, float[] Inv2, int Cols);

    private static (float[] Roots, float[] Inverses) RootsAndInverses(Tensor variances)
    {
        using var flat = variances.reshape(-1).contiguous();
        var v = flat.data<float>().ToArray();
        double tiny = ReluDual.TinyFor(ScalarType.Float32);
        var roots = v.Select(x => (float)Math.Sqrt(Math.Max(x, tiny))).ToArray();
        return (roots, roots.Select(r => 1 / r).ToArray());
    }

    private const float Pi = MathF.PI, HalfPi = MathF.PI / 2, InvTwoPi = 1 / (2 * MathF.PI);

    private static unsafe void Row(float* k, float* thetaIn, float* thetaOut, float s1, float inv1, RowParameters p)
    {
        int j = 0;
        fixed (float* s2 = p.S2, inv2 = p.Inv2)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                var vS1 = Vector256.Create(s1);
                var vInv1 = Vector256.Create(inv1);
                var w2 = Vector256.Create(p.W2);
                var b2 = Vector256.Create(p.B2);
                for (; j <= p.Cols - Vector256<float>.Count; j += Vector256<float>.Count)
                {
                    var c = Vector256.Load(k + j) * (vInv1 * Vector256.Load(inv2 + j));
                    c = Vector256.Min(Vector256.Max(c, Vector256.Create(-1f)), Vector256<float>.One);
                    var piMinusTheta = Vector256.Create(Pi) - Acos(c);
                    var sinTheta = Vector256.Sqrt(Vector256.Max(Vector256<float>.One - c * c, Vector256<float>.Zero));
                    var t = (sinTheta + piMinusTheta * c) * (vS1 * Vector256.Load(s2 + j)) * Vector256.Create(InvTwoPi);
                    var kNew = w2 * t + b2;
                    kNew.Store(k + j);
                    if (thetaOut == null) continue;
                    var thetaNew = thetaIn == null ? kNew : kNew + w2 * Vector256.Load(thetaIn + j) * piMinusTheta * Vector256.Create(InvTwoPi);
                    thetaNew.Store(thetaOut + j);
                }
            }
            for (; j < p.Cols; j++)
            {
                float c = Math.Clamp(k[j] * (inv1 * inv2[j]), -1f, 1f);
                float piMinusTheta = Pi - MathF.Acos(c);
                float t = (MathF.Sqrt(MathF.Max(1 - c * c, 0)) + piMinusTheta * c) * (s1 * s2[j]) * InvTwoPi;
                float kNew = p.W2 * t + p.B2;
                k[j] = kNew;
                if (thetaOut == null) continue;
                thetaOut[j] = thetaIn == null ? kNew : kNew + p.W2 * thetaIn[j] * piMinusTheta * InvTwoPi;
            }
        }
    }

    /// <summary>
    /// arccos on [−1, 1] (Cephes <c>acosf</c>): for |x| ≤ ½ π/2 − asin x; otherwise 2·asin √((1 − |x|)/2), reflected
    /// for x &lt; 0; asin on [0, ½] by x + x·z·P(z), z = x².
    /// </summary>
    internal static Vector256<float> Acos(Vector256<float> x)
    {
        var half = Vector256.Create(0.5f);
        var a = Vector256.Abs(x);
        var big = Vector256.GreaterThan(a, half);
        var reduced = Vector256.Sqrt(half * (Vector256<float>.One - a));
        var y = Vector256.ConditionalSelect(big, reduced, x);
        var z = y * y;
        var poly = ((((Vector256.Create(4.2163199048e-2f) * z + Vector256.Create(2.4181311049e-2f)) * z
                      + Vector256.Create(4.5470025998e-2f)) * z + Vector256.Create(7.4953002686e-2f)) * z
                    + Vector256.Create(1.6666752422e-1f)) * z * y + y;                          // asin y
        var twice = poly + poly;
        var fromBig = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), twice, Vector256.Create(Pi) - twice);
        return Vector256.ConditionalSelect(big, fromBig, Vector256.Create(HalfPi) - poly);
    }
}
