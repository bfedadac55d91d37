using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// A loss on outputs f <c>[N, O]</c> and targets y <c>[N, O]</c>, with its gradient ∂L/∂f — what function-space
/// dynamics df/dt = −η·Θ·∂L/∂f need. Normalizations as in src/GpuNtk/Kernels/README.md.
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

    public override string ToString() => Name;

    private sealed class MseLoss : OutputLoss
    {
        public override string Name => "mse";
        public override Tensor Value(Tensor f, Tensor y) => f.sub(y).square().sum().div_(2.0 * f.numel());
        public override Tensor Gradient(Tensor f, Tensor y) => f.sub(y).div_(f.numel());
    }

    private sealed class CrossEntropyLoss : OutputLoss
    {
        public override string Name => "cross-entropy";
        public override Tensor Value(Tensor f, Tensor y) => f.log_softmax(1).mul(y).sum().neg().div_(f.shape[0]);
        public override Tensor Gradient(Tensor f, Tensor y) => f.softmax(1).sub(y).div_(f.shape[0]);
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
