using GpuNtk.Networks;

namespace GpuNtk.Experiments.Linearization;

/// <summary>
/// A width sweep of one fully connected architecture, each network trained by full-batch gradient descent on the MSE
/// loss side by side with its linearization (Lee et al. 2019, "Wide neural networks of any depth evolve as linear
/// models under gradient descent", §3 and Fig. 1).
/// </summary>
public sealed record LinearizationSweepConfig
{
    /// <summary>Hidden widths, increasing.</summary>
    public IReadOnlyList<long> Widths { get; init; } = [64, 256, 1024, 4096];
    /// <summary>Hidden layers of the FCN.</summary>
    public long Depth { get; init; } = 2;
    public Activation Activation { get; init; } = Activation.Relu;
    public Parameterization Parameterization { get; init; } = Parameterization.Ntk;
    /// <summary>Full-batch gradient descent steps (time t = step, see src/GpuNtk/Kernels/README.md).</summary>
    public int Steps { get; init; } = 40;
    /// <summary>Measure every this many steps (and at the last one).</summary>
    public int EvalEvery { get; init; } = 5;
    /// <summary>The learning rate; null: <see cref="LearningRateFraction"/>·η_max, η_max = 2·N·O/λ_max(Θ0) estimated by
    /// power iteration with NTK-vector products on the widest network of at most <see cref="LearningRateReferenceWidth"/>.</summary>
    public double? LearningRate { get; init; }
    public double LearningRateFraction { get; init; } = 0.5;
    public long LearningRateReferenceWidth { get; init; } = 1024;
    public int PowerIterations { get; init; } = 20;
    /// <summary>Training examples on which Θ_t is compared with Θ_0 (the first ones of the training set).</summary>
    public int ProbeSize { get; init; } = 16;
    /// <summary>Independent initializations per width (metrics are averaged over them before the fits).</summary>
    public int Seeds { get; init; } = 1;
    public long Seed { get; init; }

    /// <summary>The architecture at one width, as a spec string users can type.</summary>
    public FcnSpec SpecAt(long width, long inputs, long outputs) => (FcnSpec)ArchitectureSpec.Parse(
        $"fcn:depth={Depth},width={width},act={Activation.ToName()},param={Parameterization.ToName()},in={inputs},out={outputs}");

    public void Validate()
    {
        if (Widths.Count < 2) throw new ArgumentException("the sweep needs at least two widths to fit a slope");
        if (Widths.Any(w => w < 1)) throw new ArgumentException($"widths must be ≥ 1, got {string.Join(",", Widths)}");
        if (Widths.Zip(Widths.Skip(1)).Any(p => p.Second <= p.First)) throw new ArgumentException($"widths must increase, got {string.Join(",", Widths)}");
        if (Depth < 1) throw new ArgumentException($"depth must be ≥ 1 (a hidden layer has a width), got {Depth}");
        if (Steps < 1) throw new ArgumentException($"steps must be ≥ 1, got {Steps}");
        if (EvalEvery < 1) throw new ArgumentException($"eval-every must be ≥ 1, got {EvalEvery}");
        if (LearningRate is { } lr && !(lr > 0)) throw new ArgumentException($"the learning rate must be positive, got {lr}");
        if (!(LearningRateFraction > 0)) throw new ArgumentException($"the learning-rate fraction must be positive, got {LearningRateFraction}");
        if (PowerIterations < 1) throw new ArgumentException("power iterations must be ≥ 1");
        if (ProbeSize < 1) throw new ArgumentException($"the NTK probe needs ≥ 1 example, got {ProbeSize}");
        if (Seeds < 1) throw new ArgumentException($"seeds must be ≥ 1, got {Seeds}");
    }
}
