using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Sums per-layer contributions to one block of Θ in the layout the contractions produce, and returns the block in
/// the public layout (src/GpuNtk/Kernels/README.md). Internal layouts: full <c>[N1, O, N2, O]</c> (so a contraction
/// over example-major rows i·O + a is a plain matrix product), trace <c>[N1, N2]</c> summed over outputs,
/// diagonal full <c>[N, O, O]</c>, diagonal trace <c>[N]</c> summed. A rule (<see cref="ILayerNtkRule.TryAccumulate"/>)
/// adds its layer's share through <see cref="AddJacobians"/>, <see cref="AddFactored"/> or <see cref="AddRows"/>.
/// </summary>
public sealed class NtkAccumulator : IDisposable
{
    private readonly Tensor _acc;

    internal NtkAccumulator(NtkOutput output, long n1, long n2, long outputs, ScalarType dtype, Device device,
        long memoryBudgetBytes = 1L << 30)
    {
        MemoryBudgetBytes = memoryBudgetBytes;
        Output = output;
        N1 = n1;
        N2 = n2;
        O = outputs;
        long[] shape = output switch
        {
            NtkOutput.Full => [n1, outputs, n2, outputs],
            NtkOutput.Trace => [n1, n2],
            NtkOutput.DiagonalFull => [n1, outputs, outputs],
            _ => [n1],
        };
        _acc = zeros(shape, dtype, device);
    }

    public NtkOutput Output { get; }
    public long N1 { get; }
    public long N2 { get; }
    public long O { get; }
    /// <summary>Working memory a structured rule may use for one contribution (it chunks its rows to fit).</summary>
    public long MemoryBudgetBytes { get; }

    public bool IsDiagonal => Output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace;

    /// <summary>Θ += J1·J2ᵀ for per-example Jacobians <c>[N1, O, Q]</c> and <c>[N2, O, Q]</c> (N2 = N1 on the diagonal).</summary>
    public void AddJacobians(Tensor j1, Tensor j2)
    {
        long q = j1.shape[2];
        using var scope = NewDisposeScope();
        switch (Output)
        {
            case NtkOutput.Full:
                _acc.view(N1 * O, N2 * O).addmm_(j1.reshape(N1 * O, q), j2.reshape(N2 * O, q).t());
                break;
            case NtkOutput.Trace:
                _acc.addmm_(j1.reshape(N1, O * q), j2.reshape(N2, O * q).t());
                break;
            case NtkOutput.DiagonalFull:
                _acc.add_(j1.bmm(j2.transpose(1, 2)));
                break;
            default:
                _acc.add_(j1.mul(j2).sum([1L, 2L]));
                break;
        }
    }

    /// <summary>
    /// Θ[i, a, j, b] += K[i, j]·⟨G1[i, a], G2[j, b]⟩ for signals <c>[N1, O, F]</c>, <c>[N2, O, F]</c> and an
    /// input kernel K <c>[N1, N2]</c> (on the diagonal: <c>[N]</c>, K[i, i]) — the structured form of a layer whose
    /// Jacobian factors as signal ⊗ input.
    /// </summary>
    public void AddFactored(Tensor k, Tensor g1, Tensor g2)
    {
        long f = g1.shape[2];
        using var scope = NewDisposeScope();
        switch (Output)
        {
            case NtkOutput.Full:
            {
                var kg = g1.reshape(N1 * O, f).matmul(g2.reshape(N2 * O, f).t());
                _acc.addcmul_(kg.view(N1, O, N2, O), k.view(N1, 1, N2, 1), 1);
                break;
            }
            case NtkOutput.Trace:
                _acc.addcmul_(g1.reshape(N1, O * f).matmul(g2.reshape(N2, O * f).t()), k, 1);
                break;
            case NtkOutput.DiagonalFull:
                _acc.addcmul_(g1.bmm(g2.transpose(1, 2)), k.view(N1, 1, 1), 1);
                break;
            default:
                _acc.addcmul_(g1.mul(g2).sum([1L, 2L]), k, 1);
                break;
        }
    }

    /// <summary>
    /// Adds rows [start, start + r) in the internal layout: <c>[r, O, N2, O]</c> (full), <c>[r, N2]</c> (traced, summed
    /// over outputs), <c>[r, O, O]</c> or <c>[r]</c> (diagonal).
    /// </summary>
    public void AddRows(long start, Tensor rows) => _acc.narrow(0, start, rows.shape[0]).add_(rows);

    /// <summary>The block in the public layout: <c>[N1, N2, O, O]</c>, <c>[N1, N2]</c> (mean over outputs), <c>[N, O, O]</c> or <c>[N]</c>.</summary>
    internal Tensor Result() => Output switch
    {
        NtkOutput.Full => _acc.permute(0, 2, 1, 3).contiguous(),
        NtkOutput.Trace or NtkOutput.DiagonalTrace => _acc.div(O),
        _ => _acc.alias(),
    };

    public void Dispose() => _acc.Dispose();
}
