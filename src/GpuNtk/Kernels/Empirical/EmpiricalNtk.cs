using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Entry point for the empirical NTK Θ(X1, X2) = J(X1)·J(X2)ᵀ of a module, J = ∂f/∂θ over all parameters that
/// require gradients. Conventions (shapes, trace = mean over outputs): src/GpuNtk/Kernels/README.md.
/// Inputs and result live on the model's device and dtype.
/// </summary>
public static class EmpiricalNtk
{
    public static Tensor Compute(nn.Module<Tensor, Tensor> model, Tensor x1, Tensor? x2 = null, NtkOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x1);
        options ??= new NtkOptions();
        if (x2 is not null && options.Output is NtkOutput.DiagonalFull or NtkOutput.DiagonalTrace)
            throw new ArgumentException("a diagonal NTK is Θ(x_i, x_i): give one input set only", nameof(x2));
        return options.Implementation switch
        {
            _ => ReferenceNtk.Compute(model, x1, x2, options.Output),
        };
    }
}
