using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>
/// A network built from an <see cref="ArchitectureSpec"/>: a flat list of layers applied in order (residual blocks
/// count as one layer). Parameters are named <c>layers.{i}.weight</c> / <c>layers.{i}.bias</c>.
/// </summary>
public sealed class Network : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // module name as it appears in parameter names
    public readonly Sequential layers;
#pragma warning restore IDE1006

    public Network(ArchitectureSpec spec, IEnumerable<nn.Module<Tensor, Tensor>> layerList) : base(spec.Kind)
    {
        Spec = spec;
        layers = nn.Sequential(layerList.Select((m, i) => (i.ToString(), m)).ToArray());
        RegisterComponents();
    }

    public ArchitectureSpec Spec { get; }

    /// <summary>Layers in forward order.</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Layers => layers.children().Cast<nn.Module<Tensor, Tensor>>().ToList();

    /// <summary>Every parameterized layer (dense, conv, including inside residual blocks) in registration order.</summary>
    public IReadOnlyList<IParameterizedLayer> ParameterizedLayers => modules().OfType<IParameterizedLayer>().ToList();

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The dtype and device the parameters live on.</summary>
    public ScalarType DType => parameters().First().dtype;
    public Device Device => parameters().First().device;

    public override Tensor forward(Tensor x) => layers.forward(x);
}
