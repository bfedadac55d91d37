using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>Flattens <c>[N, …]</c> to <c>[N, features]</c>.</summary>
public sealed class FlattenLayer() : nn.Module<Tensor, Tensor>("flatten")
{
    public override Tensor forward(Tensor x) => x.dim() == 2 ? x.alias() : x.reshape(x.shape[0], -1);
}

/// <summary>Reshapes flat <c>[N, C·H·W]</c> inputs to images <c>[N, C, H, W]</c>; image inputs pass through.</summary>
public sealed class ToImageLayer(long channels, long size) : nn.Module<Tensor, Tensor>("to_image")
{
    public long Channels { get; } = channels;
    public long Size { get; } = size;

    public override Tensor forward(Tensor x) => x.dim() == 4 ? x.alias() : x.reshape(x.shape[0], Channels, Size, Size);
}

/// <summary>Average pooling over non-overlapping <c>window×window</c> patches.</summary>
public sealed class AveragePoolLayer(long window) : nn.Module<Tensor, Tensor>("avg_pool")
{
    public long Window { get; } = window;

    public override Tensor forward(Tensor x) => nn.functional.avg_pool2d(x, Window, Window);
}

/// <summary>Mean over the spatial axes: <c>[N, C, H, W]</c> → <c>[N, C]</c>.</summary>
public sealed class GlobalAveragePoolLayer() : nn.Module<Tensor, Tensor>("global_avg_pool")
{
    public override Tensor forward(Tensor x) => x.mean([2L, 3L]);
}
