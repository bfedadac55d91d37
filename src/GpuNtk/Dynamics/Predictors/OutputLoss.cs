using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// A loss on outputs f <c>[N, O]</c> and targets y <c>[N, O]</c>, with its gradient ∂L/∂f — what function-space
/// dynamics df/dt = −η·Θ·∂L/∂f need — and its curvature in function space, which sets η_max
/// (<see cref="LearningRateLimit"/>). The one loss abstraction: the trainer's <c>LossKind</c> names one of these, and
/// the MSE formula lives only here. Normalizations as in src/GpuNtk/Kernels/README.md.
/// </summary>
public abstract class OutputLoss
{
    /// <summary>L = 1/(2·N·O)·‖f − y‖², ∂L/∂f = (f − y)/(N·O).</summary>
    public static OutputLoss MeanSquaredError { get; } = new MseLoss();

    /// <summary>
    /// Softmax cross-entropy, the mean over examples of −Σ_a y_a·log softmax(f)_a (y one-hot or probabilities, rows
    /// summing to 1); ∂L/∂f = (softmax(f) − y)/N.
    /// </summary>
    public static OutputLoss CrossEntropy { get; } = new CrossEntropyLoss();

    /// <summary>Any differentiable loss L(f, y) → scalar; its gradient comes from autograd.</summary>
    public static OutputLoss FromFunction(string name, Func<Tensor, Tensor, Tensor> loss) => new AutogradLoss(name, loss);

    public abstract string Name { get; }
    public abstract Tensor Value(Tensor f, Tensor y);
    public abstract Tensor Gradient(Tensor f, Tensor y);

    /// <summary>
    /// L for training data that also carry integer class <paramref name="labels"/> <c>[N]</c>: losses that can use them
    /// do (cross-entropy: the fused kernel, and the logistic loss of ±1 labels for one output); the others use the targets.
    /// </summary>
    public virtual Tensor Value(Tensor f, Tensor targets, Tensor labels) => Value(f, targets);

    /// <summary>
    /// 1/c, with c the largest curvature of the loss in function space at initialisation, for N examples and O outputs:
    /// N·O for the MSE (exact); the same for softmax cross-entropy near uniform outputs; 4N for the logistic loss (O = 1).
    /// </summary>
    public virtual double InverseCurvature(long examples, long outputs) =>
        throw new NotSupportedException($"the {Name} loss does not know its curvature: give η directly instead of a fraction of η_max");

    public override string ToString() => Name;

    private sealed class MseLoss : OutputLoss
    {
        public override string Name => "mse";

        /// <summary>
        /// L = 1/(2·N·O)·‖f − y‖² = ½·mean of the squared residuals over the last two axes <c>[N, O]</c> (or all of
        /// <c>[N]</c>); leading axes of f (e.g. time <c>[T, N, O]</c>) give one loss each.
        /// </summary>
        public override Tensor Value(Tensor f, Tensor y) =>
            f.dim() <= 2
                ? nn.functional.mse_loss(f, y).mul_(0.5)
                : nn.functional.mse_loss(f, y.expand_as(f), nn.Reduction.None).mean([-2L, -1L]).mul_(0.5);

        public override Tensor Gradient(Tensor f, Tensor y) => f.sub(y).div_(f.numel());
        public override double InverseCurvature(long examples, long outputs) => (double)examples * outputs;
    }

    private sealed class CrossEntropyLoss : OutputLoss
    {
        public override string Name => "cross-entropy";
        public override Tensor Value(Tensor f, Tensor y) => f.log_softmax(1).mul(y).sum().neg().div_(f.shape[0]);
        public override Tensor Gradient(Tensor f, Tensor y) => f.softmax(1).sub(y).div_(f.shape[0]);

        public override Tensor Value(Tensor f, Tensor targets, Tensor labels)
        {
            if (f.shape[1] != 1) return nn.functional.cross_entropy(f, labels);
            using var scope = NewDisposeScope();
            // One output: the logistic loss softplus(−y·f) of ±1 labels y.
            var sign = labels.to(f.dtype).mul(2).sub_(1).unsqueeze(1);
            return nn.functional.softplus(f.mul(sign).neg_()).mean().MoveToOuterDisposeScope();
        }

        // Near-uniform softmax: curvature 1/(N·O) per output; the logistic loss at f = 0: σ'(0)/N = 1/(4N).
        public override double InverseCurvature(long examples, long outputs) => outputs == 1 ? 4.0 * examples : (double)examples * outputs;
    }

    private sealed class AutogradLoss(string name, Func<Tensor, Tensor, Tensor> loss) : OutputLoss
    {
        public override string Name => name;
        public override Tensor Value(Tensor f, Tensor y) => loss(f, y);

        public override Tensor Gradient(Tensor f, Tensor y)
        {
            using var grad = enable_grad();
            var leaf = f.detach().requires_grad_();
            var value = loss(leaf, y);
            return autograd.grad([value], [leaf])[0];
        }
    }
}
