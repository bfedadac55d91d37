using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// A pre-activation wide-ResNet block without BatchNorm: <c>conv₂(φ(conv₁(φ(x)))) + shortcut(x)</c>, the shortcut
/// being the identity or, when the shape changes, a 1×1 convolution with the block's stride.
/// No normalisation layer: every example's output depends on that example alone, as the NTK requires.
/// </summary>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // module names as they appear in parameter names
    public readonly ActivationLayer act1;
    public readonly Conv2dLayer conv1;
    public readonly ActivationLayer act2;
    public readonly Conv2dLayer conv2;
    public readonly Conv2dLayer? shortcut;
#pragma warning restore IDE1006

    public ResidualBlock(long inChannels, long outChannels, long stride, Activation activation,
        Parameterization parameterization, double wStd, double bStd) : base("residual_block")
    {
        act1 = new ActivationLayer(activation);
        conv1 = new Conv2dLayer(inChannels, outChannels, 3, stride, parameterization, wStd, bStd);
        act2 = new ActivationLayer(activation);
        conv2 = new Conv2dLayer(outChannels, outChannels, 3, 1, parameterization, wStd, bStd);
        if (stride != 1 || inChannels != outChannels)
            shortcut = new Conv2dLayer(inChannels, outChannels, 1, stride, parameterization, wStd, bStd);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // call(), not forward(): TorchSharp runs forward hooks only in call(), and the NTK engine hooks these layers.
        var h = conv2.call(act2.call(conv1.call(act1.call(x))));
        var s = shortcut is null ? x : shortcut.call(x);
        return (h + s).MoveToOuterDisposeScope();
    }
}
