using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// How the hierarchy sees a network with O outputs: as the scalar function F(x, a) = f_a(x) of an (example, output)
/// pair. Every derivative backend differentiates row r's output <c>output[r]</c>; <c>null</c> means "the model has one
/// output" (checked). The full multi-output kernels are the scalar hierarchy over the N·O pairs (example-major,
/// <c>i·O + a</c>, the NTK's row order) — src/GpuNtk/Kernels/README.md.
/// </summary>
internal static class OutputSelection
{
    /// <summary>Row r of <paramref name="f"/> (<c>[R, …]</c>, O numbers per row) at output <c>output[r]</c>: <c>[R]</c>.</summary>
    public static Tensor Select(Tensor f, Tensor? output)
    {
        long r = f.shape[0];
        var rows = f.reshape(r, -1);
        if (output is null)
        {
            if (rows.shape[1] != 1)
                throw new ArgumentException($"this model has {rows.shape[1]} outputs per example: give the output of each row " +
                                            "(HierarchyKernels does, by NtkOutput.Full or Trace)");
            return rows.reshape(r);
        }
        return rows.gather(1, output.unsqueeze(1)).reshape(r);
    }

    /// <summary>Pairs (x_i, a) for all i and a &lt; <paramref name="outputs"/>, example-major: inputs repeated and output indices.</summary>
    public static (Tensor X, Tensor Output) Pairs(Tensor x, long outputs)
    {
        long n = x.shape[0];
        var xs = outputs == 1 ? x.alias() : x.repeat_interleave(outputs, dim: 0);
        var o = arange(outputs, ScalarType.Int64, x.device).repeat(n);
        return (xs, o);
    }

    /// <summary>Every example paired with the one output <paramref name="output"/>.</summary>
    public static (Tensor X, Tensor Output) Single(Tensor x, long output) =>
        (x.alias(), full(x.shape[0], output, ScalarType.Int64, x.device));
}
