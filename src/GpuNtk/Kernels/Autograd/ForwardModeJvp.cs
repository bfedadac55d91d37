using GpuNtk.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Autograd;

/// <summary>
/// J·u = d/dε f(x; θ + εu) at ε = 0 by forward mode, for modules built from layers whose tangent rule is known:
/// GpuNtk's <see cref="Network"/> layers (dense, convolution, activations, LayerNorm, pooling, reshapes, residual
/// blocks) and TorchSharp's <c>Sequential</c>, <c>Linear</c>, <c>ReLU</c>, <c>Tanh</c>, <c>Flatten</c> and
/// <c>Identity</c>. TorchSharp has no forward-mode AD, so each layer carries its tangent beside its output in one pass
/// without an autograd graph: about three forward passes in all (the output, and for a parameterized layer W·dx and
/// dW·x), against about five and a retained double-backward graph for <see cref="JacobianOperator"/>, which stays the
/// general path for every other module (<see cref="TryCompute"/> returns null there).
/// </summary>
/// <remarks>
/// A parameter missing from <c>parameters</c>, or whose tangent is null, is held constant. The output is the layers' own
/// <c>forward</c> (the same function as the module's), computed without gradients; hooks do not run.
/// </remarks>
public static class ForwardModeJvp
{
    /// <summary>Whether every module in <paramref name="module"/>'s tree has a tangent rule here.</summary>
    public static bool Supports(nn.Module<Tensor, Tensor> module) => module switch
    {
        Network n => n.Layers.All(Supports),
        Sequential s => s.children().All(c => c is nn.Module<Tensor, Tensor> m && Supports(m)),
        ResidualBlock => true,
        DenseLayer or Conv2dLayer or ActivationLayer or LayerNormLayer => true,
        FlattenLayer or ToImageLayer or AveragePoolLayer or GlobalAveragePoolLayer => true,
        Linear or ReLU or Tanh or Flatten or Identity => true,
        _ => false,
    };

    /// <summary>
    /// f(x) and J(x)·u (both detached, shaped like f(x)), or null when some module of <paramref name="module"/> has
    /// no tangent rule (use <see cref="JacobianOperator"/> then). <paramref name="tangents"/> pairs with
    /// <paramref name="parameters"/>.
    /// </summary>
    public static (Tensor Output, Tensor Jvp)? TryCompute(nn.Module<Tensor, Tensor> module, IReadOnlyList<Tensor> parameters, Tensor x,
                                                          IReadOnlyList<Tensor?> tangents)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(x);
        if (tangents.Count != parameters.Count)
            throw new ArgumentException($"{tangents.Count} tangents for {parameters.Count} parameters: give one per parameter", nameof(tangents));
        if (!Supports(module)) return null;
        var byHandle = new Dictionary<IntPtr, Tensor>();
        for (int k = 0; k < parameters.Count; k++)
        {
            if (tangents[k] is { } t) byHandle[parameters[k].Handle] = t.detach();
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (y, dy) = new Pass(byHandle).Through(module, x, null);
        var jvp = dy ?? zeros_like(y);
        return (y.MoveToOuterDisposeScope(), jvp.MoveToOuterDisposeScope());
    }

    /// <summary>One forward pass carrying (output, tangent); a null tangent is zero (no parameter upstream moves).</summary>
    private sealed class Pass(Dictionary<IntPtr, Tensor> tangents)
    {
        private Tensor? TangentOf(Tensor? parameter) =>
            parameter is not null && tangents.TryGetValue(parameter.Handle, out var t) ? t : null;

        public (Tensor Y, Tensor? Dy) Through(nn.Module<Tensor, Tensor> module, Tensor x, Tensor? dx) => module switch
        {
            Network n => Chain(n.Layers, x, dx),
            Sequential s => Chain(s.children().Cast<nn.Module<Tensor, Tensor>>(), x, dx),
            ResidualBlock r => Residual(r, x, dx),
            DenseLayer d => (d.forward(x), Dense(d, x, dx)),
            Conv2dLayer c => (c.forward(x), Conv(c, x, dx)),
            ActivationLayer a => Activate(a.Kind, x, dx),
            ReLU => Activate(Activation.Relu, x, dx),
            Tanh => Activate(Activation.Tanh, x, dx),
            LayerNormLayer l => LayerNorm(l, x, dx),
            Linear l => (l.forward(x), TorchLinear(l, x, dx)),
            // Linear and parameter-free: the tangent goes through the layer itself.
            FlattenLayer or ToImageLayer or AveragePoolLayer or GlobalAveragePoolLayer or Flatten or Identity
                => (module.forward(x), dx is null ? null : module.forward(dx)),
            _ => throw new NotSupportedException($"no forward-mode tangent rule for {module.GetType().Name} (Supports should have said so)"),
        };

        private (Tensor Y, Tensor? Dy) Chain(IEnumerable<nn.Module<Tensor, Tensor>> layers, Tensor x, Tensor? dx)
        {
            foreach (var layer in layers) (x, dx) = Through(layer, x, dx);
            return (x, dx);
        }

        private (Tensor Y, Tensor? Dy) Residual(ResidualBlock r, Tensor x, Tensor? dx)
        {
            var (h, dh) = Chain([r.act1, r.conv1, r.act2, r.conv2], x, dx);
            var (s, ds) = r.shortcut is null ? (x, dx) : Through(r.shortcut, x, dx);
            return (h.add(s), Sum(dh, ds));
        }

        /// <summary>d(α·xWᵀ + β·b) = α·(dx·Wᵀ + x·dWᵀ) + β·db.</summary>
        private Tensor? Dense(DenseLayer layer, Tensor x, Tensor? dx)
        {
            var linear = Sum(dx?.matmul(layer.weight.t()), TangentOf(layer.weight) is { } dw ? x.matmul(dw.t()) : null)?.mul_(layer.WeightMultiplier);
            return AddBias(linear, TangentOf(layer.bias), layer.BiasMultiplier, x.shape[0], layer.OutFeatures);
        }

        private Tensor? TorchLinear(Linear layer, Tensor x, Tensor? dx)
        {
            var linear = Sum(dx?.matmul(layer.weight!.t()), TangentOf(layer.weight) is { } dw ? x.matmul(dw.t()) : null);
            return AddBias(linear, TangentOf(layer.bias), 1.0, x.shape[0], layer.weight!.shape[0]);
        }

        /// <summary>d conv(x; αW, βb) = conv(dx; αW) + conv(x; α·dW, β·db), through the layer's own (oneDNN-safe) convolution.</summary>
        private Tensor? Conv(Conv2dLayer layer, Tensor x, Tensor? dx)
        {
            var dw = TangentOf(layer.weight);
            var db = TangentOf(layer.bias)?.mul(layer.BiasMultiplier);
            if (dx is null && dw is null) return db is null ? null : ConstantBias(layer, x, db);
            Tensor? fromInput = dx is null ? null : OneDnnSafeConv2d.Apply(dx, layer.weight.mul(layer.WeightMultiplier), null, layer.Stride, layer.Padding);
            if (dw is null) return db is null ? fromInput : AddChannelBias(fromInput!, db);
            var fromParameters = OneDnnSafeConv2d.Apply(x, dw.mul(layer.WeightMultiplier), db, layer.Stride, layer.Padding);
            return fromInput is null ? fromParameters : fromParameters.add_(fromInput);
        }

        private static Tensor ConstantBias(Conv2dLayer layer, Tensor x, Tensor db)
        {
            long size(long n) => (n + 2 * layer.Padding - layer.KernelSize) / layer.Stride + 1;
            return db.reshape(1, -1, 1, 1).expand(x.shape[0], db.shape[0], size(x.shape[2]), size(x.shape[3])).clone();
        }

        private static Tensor AddChannelBias(Tensor t, Tensor db) => t.add_(db.reshape(1, -1, 1, 1));

        private static Tensor? AddBias(Tensor? linear, Tensor? db, double multiplier, long rows, long features)
        {
            if (db is null) return linear;
            return linear is null ? db.mul(multiplier).expand(rows, features).clone() : linear.add_(db, alpha: multiplier);
        }

        /// <summary>dφ(x) = φ'(x)·dx.</summary>
        private static (Tensor Y, Tensor? Dy) Activate(Activation kind, Tensor x, Tensor? dx)
        {
            var y = ActivationLayer.Apply(kind, x);
            if (dx is null) return (y, null);
            var dy = kind switch
            {
                // threshold_backward's convention: the derivative at 0 is 0.
                Activation.Relu => dx.masked_fill(x.le(0), 0),
                Activation.Tanh => dx.mul(y.square().neg_().add_(1)),
                Activation.Erf => dx.mul(x.square().neg_().exp_().mul_(2 / Math.Sqrt(Math.PI))),
                // gelu (exact): Φ(x) + x·φ(x).
                Activation.Gelu => dx.mul(x.div(Math.Sqrt(2)).erf_().add_(1).mul_(0.5)
                    .add_(x.mul(x.square().mul_(-0.5).exp_()).mul_(1 / Math.Sqrt(2 * Math.PI)))),
                Activation.Identity => dx.alias(),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
            };
            return (y, dy);
        }

        /// <summary>y = (h − μ)/s with s = √(var + ε) over each example's features: dy = (dh − mean(dh) − y·mean(y·dh))/s.</summary>
        private static (Tensor Y, Tensor? Dy) LayerNorm(LayerNormLayer layer, Tensor x, Tensor? dx)
        {
            var y = layer.forward(x);
            if (dx is null) return (y, null);
            var dims = Enumerable.Range(1, (int)x.dim() - 1).Select(d => (long)d).ToArray();
            var s = x.var(dims, unbiased: false, keepdim: true).add_(layer.Epsilon).sqrt_();
            var dy = dx.sub(dx.mean(dims, keepdim: true)).sub_(y.mul(y.mul(dx).mean(dims, keepdim: true))).div_(s);
            return (y, dy);
        }

        private static Tensor? Sum(Tensor? a, Tensor? b) => a is null ? b : b is null ? a : a.add(b);
    }
}
