using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// How many training-probe examples the two NTK measurements of a run use by default, from a cost model: the work M
/// of one example's forward pass (<see cref="CostPerExample"/>: multiply-adds, plus
/// <see cref="MultiplyAddsPerActivation"/> for each activation element a parameterized layer writes, since every such
/// element is written and read again by the activation, the backward and the double-backward passes — the
/// memory-bound part that dominates small convolutions). Both measurements cost a
/// fixed number of forward and backward passes per example — the λ_max power iteration at the start about 20 passes
/// of a VJP and a double-backward JVP, each telemetry row's traced NTK one forward, O backward passes and O
/// per-example weight gradients — so bounding N·M bounds their time. An FCN (M of a few million) keeps the whole
/// probe; a convolutional network (M 10–100× larger per example) uses fewer examples.
/// <list type="bullet">
/// <item><b>λ_max at the start</b> (<see cref="EtaMaxExamples"/>): the largest prefix of the probe with
/// N·M ≤ <see cref="EtaMaxMultiplyAdds"/>, at least <see cref="MinExamples"/>. η_max = 2·N·O/λ_max uses the same N;
/// λ_max grows about linearly in N, so η_max barely depends on N, and a smaller N gives a slightly smaller (safer)
/// η_max, since each example's own kernel value weighs more.</item>
/// <item><b>The NTK telemetry</b> (<see cref="DefaultNtkExamples(nn.Module{Tensor, Tensor}, Tensor)"/>): min(probe, 256) when
/// 256·M ≤ <see cref="NtkMultiplyAdds"/>, else N·M ≤ <see cref="NtkMultiplyAdds"/>, at least
/// <see cref="MinNtkExamples"/>: what <c>TrainConfig.NtkProbe</c> = null (the library's and the CLI's default) uses.</item>
/// </list>
/// </summary>
public static class ProbeSizes
{
    /// <summary>Multiply-adds of one forward pass over the λ_max examples: an FCN 3072-512-512-10 on 256 examples.</summary>
    public const long EtaMaxMultiplyAdds = 1L << 29;

    /// <summary>The fewest examples the λ_max estimate uses (fewer only when the probe is smaller).</summary>
    public const int MinExamples = 16;

    /// <summary>Multiply-adds of one forward pass over the default NTK probe.</summary>
    public const long NtkMultiplyAdds = 1L << 29;

    /// <summary>The most examples of the default NTK probe.</summary>
    public const int MaxNtkExamples = 256;

    /// <summary>The fewest examples of the default NTK probe (fewer only when the probe is smaller).</summary>
    public const int MinNtkExamples = 32;

    /// <summary>How many of the first <paramref name="probeInputs"/> examples the λ_max estimate at the start uses.</summary>
    public static int EtaMaxExamples(nn.Module<Tensor, Tensor> module, Tensor probeInputs) =>
        Affordable(probeInputs.shape[0], CostPerExample(module, probeInputs), EtaMaxMultiplyAdds, MinExamples, long.MaxValue);

    /// <summary>The default NTK probe of <paramref name="spec"/> with a training probe of <paramref name="probeTrain"/> examples.</summary>
    public static int DefaultNtkExamples(ArchitectureSpec spec, int probeTrain)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var scope = NewDisposeScope();
        using var network = NetworkFactory.Create(spec, 0);
        return DefaultNtkExamples(network, zeros(1, spec.InputSize), probeTrain);
    }

    /// <summary>The default NTK probe of any <paramref name="module"/> on the training probe <paramref name="probeInputs"/> (<c>TrainConfig.NtkProbe</c> = null).</summary>
    public static int DefaultNtkExamples(nn.Module<Tensor, Tensor> module, Tensor probeInputs) =>
        DefaultNtkExamples(module, probeInputs, probeInputs.shape[0]);

    private static int DefaultNtkExamples(nn.Module<Tensor, Tensor> module, Tensor oneExample, long probeTrain) =>
        Affordable(probeTrain, CostPerExample(module, oneExample), NtkMultiplyAdds, MinNtkExamples, MaxNtkExamples);

    private static int Affordable(long count, long perExample, long budget, long min, long max) =>
        (int)Math.Min(Math.Min(count, max), Math.Max(min, budget / Math.Max(1, perExample)));

    /// <summary>
    /// Multiply-add equivalents of one element a parameterized layer writes: 4 bytes written or read about 4 times
    /// (forward, activation, backward, double backward) at the 4 multiply-adds per byte of
    /// <c>ConvNtkCost.FlopsPerByte</c> (8 FLOPs).
    /// </summary>
    public const long MultiplyAddsPerActivation = 64;

    /// <summary>Multiply-adds of one example's forward pass (see <see cref="Count"/>).</summary>
    public static long MultiplyAddsPerExample(nn.Module<Tensor, Tensor> module, Tensor inputs) => Count(module, inputs).MultiplyAdds;

    /// <summary>The cost model's work per example: multiply-adds + <see cref="MultiplyAddsPerActivation"/> × activation elements.</summary>
    public static long CostPerExample(nn.Module<Tensor, Tensor> module, Tensor inputs)
    {
        var (macs, activations) = Count(module, inputs);
        return macs + MultiplyAddsPerActivation * activations;
    }

    /// <summary>
    /// Multiply-adds and output elements of the parameterized layers in one example's forward pass, counted by one
    /// forward pass with hooks on the first example of <paramref name="inputs"/>: a module that owns trainable
    /// parameters applies them once per output position (a dense layer once, a convolution once per output pixel), so
    /// it costs its parameter count times its output's elements per channel.
    /// </summary>
    private static (long MultiplyAdds, long Activations) Count(nn.Module<Tensor, Tensor> module, Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputs);
        using var scope = NewDisposeScope();
        long macs = 0, activations = 0;
        var removers = new List<Action>();
        foreach (var m in module.modules().Prepend(module).Distinct())
        {
            long own = m.named_parameters(recurse: false).Where(p => p.parameter.requires_grad).Sum(p => p.parameter.numel());
            if (own == 0 || m is not nn.Module<Tensor, Tensor> typed) continue;
            var hook = typed.register_forward_hook((_, _, output) =>
            {
                long elements = output.dim() >= 1 && output.shape[0] > 0 ? output.numel() / output.shape[0] : output.numel();
                macs += own * (output.dim() >= 2 && output.shape[1] > 0 ? elements / output.shape[1] : 1);
                activations += elements;
                return output;
            });
            removers.Add(hook.remove);
        }
        // Eval mode: one example through a training-mode BatchNorm would fail or move its running statistics.
        // Each module's own mode, parents before children (train(bool) is recursive), to restore a mixed tree exactly.
        var modes = module.modules().Prepend(module).Distinct().Select(m => (Module: m, m.training)).ToList();
        try
        {
            using var noGrad = no_grad();
            module.eval();
            module.call(inputs.narrow(0, 0, 1));
        }
        finally
        {
            foreach (var (m, training) in modes) m.train(training);
            foreach (var remove in removers) remove();
        }
        return (macs, activations);
    }
}
