using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Samples.BringYourOwnModule;

/// <summary>
/// A small ResNet written with TorchSharp's own layers: conv3×3(C→16) → two residual blocks x + conv(relu(conv(x)))
/// (the second at stride 2 with a 1×1 projection) → relu → global average pool → Linear(16→10). No BatchNorm: every
/// example's output depends on that example alone, which the NTK telemetry needs. Its state_dict names are those of
/// <c>make_init.py</c>'s PyTorch twin, so a <c>.pt</c> from PyTorch loads into it.
/// </summary>
public sealed class SmallResNet : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // module names as they appear in state_dict keys (PyTorch's)
    private readonly Conv2d stem;
    private readonly Conv2d block1_conv1;
    private readonly Conv2d block1_conv2;
    private readonly Conv2d block2_conv1;
    private readonly Conv2d block2_conv2;
    private readonly Conv2d block2_shortcut;
    private readonly Linear head;
#pragma warning restore IDE1006

    public SmallResNet(long inChannels, long classes = 10, long width = 16) : base("small_resnet")
    {
        stem = nn.Conv2d(inChannels, width, 3, padding: 1);
        block1_conv1 = nn.Conv2d(width, width, 3, padding: 1);
        block1_conv2 = nn.Conv2d(width, width, 3, padding: 1);
        block2_conv1 = nn.Conv2d(width, width, 3, stride: 2, padding: 1);
        block2_conv2 = nn.Conv2d(width, width, 3, padding: 1);
        block2_shortcut = nn.Conv2d(width, width, 1, stride: 2);
        head = nn.Linear(width, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // call(), not forward(): TorchSharp runs forward hooks only in call(), and the fast NTK rules hook the layers.
        var h = stem.call(x);
        h = h + block1_conv2.call(nn.functional.relu(block1_conv1.call(nn.functional.relu(h))));
        h = block2_shortcut.call(h) + block2_conv2.call(nn.functional.relu(block2_conv1.call(nn.functional.relu(h))));
        return head.call(nn.functional.relu(h).mean([2L, 3L])).MoveToOuterDisposeScope();
    }
}
