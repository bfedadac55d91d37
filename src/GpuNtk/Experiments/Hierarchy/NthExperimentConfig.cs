using System.Globalization;
using GpuNtk.Data;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Experiments.Hierarchy;

/// <summary>
/// The neural tangent hierarchy experiment: FCNs of several widths trained by exact gradient flow on points of the unit
/// sphere or on two image classes, compared over time with the hierarchy truncated at each level p.
/// </summary>
public sealed record NthExperimentConfig
{
    /// <summary>
    /// FCN template; <c>width</c> is replaced by each of <see cref="Widths"/>, <c>out</c> by <see cref="Outputs"/>, and
    /// with <see cref="Images"/> <c>in</c> by the image features C·<see cref="ImageSize"/>² (C = 1 for MNIST-like sets, else 3).
    /// </summary>
    public string Architecture { get; init; } = "fcn:depth=1,act=tanh,in=8";
    /// <summary>
    /// O, the network's outputs. Sphere: target y_a = in·x_a·x_{a+1} (indices mod in). Images: O = 1 gets ±1 (first
    /// class −1), O = 2 gets (y, −y). The kernels are then full and the dynamics couple the outputs.
    /// </summary>
    public int Outputs { get; init; } = 1;
    /// <summary>
    /// Null: inputs uniform on the unit sphere S^{in−1}. Otherwise two image classes (Fashion-MNIST, MNIST, CIFAR-10 or the
    /// synthetic CIFAR-format set; <see cref="DataOptions.Classes"/> must name two), prepared by the linearization sweep's
    /// <c>SweepData</c>: average-pooled to <see cref="ImageSize"/>², flattened, ‖x‖ = √d. Sizes and seed are set per run
    /// from this config.
    /// </summary>
    public DataOptions? Images { get; init; }
    /// <summary>Side of the pooled images with <see cref="Images"/> (a divisor of the stored side: 32, or 28 for MNIST-like sets).</summary>
    public int ImageSize { get; init; } = 4;
    public IReadOnlyList<long> Widths { get; init; } = [64, 128, 256, 512, 1024, 2048];
    /// <summary>Truncation levels p to compare (2 = linearized/NTK dynamics).</summary>
    public IReadOnlyList<int> Orders { get; init; } = [2, 3, 4];
    public int TrainPoints { get; init; } = 32;
    public int TestPoints { get; init; } = 16;
    /// <summary>Last observation time t (in units where η = 1 is the paper's time).</summary>
    public double Duration { get; init; } = 10;
    /// <summary>Observation times, log-spaced from Duration/100 to Duration.</summary>
    public int TimePoints { get; init; } = 10;
    /// <summary>Independent initialisations (and datasets) per width; errors are averaged over them.</summary>
    public int Seeds { get; init; } = 2;
    public long Seed { get; init; }
    public double LearningRate { get; init; } = 1;
    public ScalarType DType { get; init; } = ScalarType.Float64;
    public Device? Device { get; init; }
    /// <summary>
    /// Relative tolerance of both ODE integrations (network parameters and hierarchy; absolute = 1e-3 × this). Tight by
    /// default: the p = 4 errors of wide networks are ~1e-8 and must stay far above the integration error.
    /// </summary>
    public double OdeTolerance { get; init; } = 1e-11;
    public long MemoryBudgetBytes { get; init; } = 4L << 30;

    /// <summary>The FCN spec for one width: the template with that width, <see cref="Outputs"/> outputs and the data's inputs.</summary>
    public FcnSpec SpecFor(long width) => Template with { Width = width, Outputs = Outputs, Inputs = InputSize };

    /// <summary>Features per example: the template's <c>in</c> on the sphere, C·size² for images.</summary>
    public long InputSize => Images is null ? Template.Inputs
        : (Images.Source is DataSource.Mnist or DataSource.FashionMnist ? 1L : 3L) * ImageSize * ImageSize;

    public FcnSpec Template => ArchitectureSpec.Parse(Architecture) as FcnSpec
        ?? throw new ArgumentException($"--arch {Architecture}: the hierarchy experiment uses fully connected networks (fcn:…)");

    public IReadOnlyList<double> Times => Enumerable.Range(0, TimePoints)
        .Select(i => TimePoints == 1 ? Duration : Duration / 100 * Math.Pow(100, (double)i / (TimePoints - 1))).ToArray();

    public void Validate()
    {
        var t = Template;
        if (Images is null && t.Inputs < 2) throw new ArgumentException($"{Architecture}: in must be ≥ 2 (inputs live on the unit sphere in ℝ^in and the target is in·x₀·x₁)");
        if (Outputs < 1) throw new ArgumentException($"outputs = {Outputs}: give at least 1");
        if (Images is not null && Outputs > 2) throw new ArgumentException($"outputs = {Outputs}: a two-class image task has 1 (±1) or 2 ((y, −y)) outputs");
        if (Images is not null && Images.Source == DataSource.Npy)
            throw new ArgumentException("the hierarchy experiment takes two classes of an image set (fashion-mnist, mnist, cifar10, synthetic), not npy files");
        if (Images is not null) Images.Validate();
        if (Widths.Count == 0 || Widths.Any(w => w < 1)) throw new ArgumentException("widths must be a non-empty list of positive integers");
        if (Orders.Count == 0 || Orders.Any(p => p is < 2 or > 4)) throw new ArgumentException("orders must be among 2, 3, 4");
        if (TrainPoints < 1 || TestPoints < 0) throw new ArgumentException("need ≥ 1 training point and ≥ 0 test points");
        if (!(Duration > 0) || TimePoints < 1) throw new ArgumentException("duration must be positive and time points ≥ 1");
        if (Seeds < 1) throw new ArgumentException("seeds must be ≥ 1");
        if (!(LearningRate > 0)) throw new ArgumentException("the learning rate must be positive");
        if (DType is not (ScalarType.Float32 or ScalarType.Float64)) throw new ArgumentException("dtype must be float32 or float64");
        if (!(OdeTolerance > 0)) throw new ArgumentException("the ODE tolerance must be positive");
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{SpecFor(Template.Width).ToString().Replace($"width={Template.Width},", "")} data={(Images is null ? "sphere" : $"{Images.Source}[{string.Join(",", Images.Classes ?? [])}] {ImageSize}x{ImageSize}")} widths=[{string.Join(",", Widths)}] p=[{string.Join(",", Orders)}] n={TrainPoints} test={TestPoints} T={Duration} seeds={Seeds} {DType}");
}
