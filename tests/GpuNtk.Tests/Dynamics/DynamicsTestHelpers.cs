using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

/// <summary>Data and a plain full-batch training loop shared by the dynamics tests.</summary>
internal static class DynamicsTestHelpers
{
    /// <summary>n inputs in R^d on the sphere of radius √d (so the NTK's diagonal is O(1)), float64.</summary>
    public static Tensor Inputs(long n, long d, ulong seed)
    {
        using var g = new Generator(seed);
        var x = randn([n, d], ScalarType.Float64, generator: g);
        return x.div(x.square().sum(1, keepdim: true).sqrt()).mul_(Math.Sqrt(d));
    }

    public static Tensor Targets(long n, long o, ulong seed)
    {
        using var g = new Generator(seed);
        return randn([n, o], ScalarType.Float64, generator: g);
    }

    /// <summary>MSE 1/(2·N·O)·‖f − y‖², as in src/GpuNtk/Kernels/README.md.</summary>
    public static Tensor MseLoss(Tensor f, Tensor y) => f.sub(y).square().sum().div(2.0 * f.numel());

    /// <summary>
    /// Full-batch SGD (PyTorch's momentum convention) on the MSE loss for <paramref name="steps"/> steps; returns the
    /// train and test outputs after every step, <c>[steps + 1, N, O]</c> and <c>[steps + 1, M, O]</c> (index 0 = start;
    /// test null without test inputs).
    /// </summary>
    public static (Tensor Train, Tensor? Test) Train(nn.Module<Tensor, Tensor> model, Tensor xTrain, Tensor yTrain, Tensor? xTest,
                                                   double learningRate, int steps, double momentum = 0)
    {
        var optimizer = optim.SGD(model.parameters(), learningRate, momentum);
        var train = new List<Tensor>();
        var test = new List<Tensor>();
        for (int k = 0; k <= steps; k++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var f = model.forward(xTrain);
            using (no_grad())
            {
                train.Add(f.detach().clone().MoveToOuterDisposeScope());
                if (xTest is not null) test.Add(model.forward(xTest).MoveToOuterDisposeScope());
            }
            if (k == steps) break;
            MseLoss(f, yTrain).backward();
            optimizer.step();
        }
        return (stack(train), xTest is null ? null : stack(test));
    }

    /// <summary>‖a − b‖ / ‖b‖.</summary>
    public static double RelativeError(Tensor a, Tensor b) =>
        a.sub(b).norm().item<double>() / Math.Max(b.norm().item<double>(), 1e-300);

    public static double MaxAbs(Tensor a, Tensor b) => a.sub(b).abs().max().item<double>();
}
