using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>Elementwise nonlinearities with known infinite-width kernels (closed form or quadrature).</summary>
public enum Activation
{
    Relu,
    Erf,
    Tanh,
    Gelu,
    Identity,
}

public static class ActivationNames
{
    public static string ToName(this Activation a) => a.ToString().ToLowerInvariant();

    public static Activation Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "relu" => Activation.Relu,
        "erf" => Activation.Erf,
        "tanh" => Activation.Tanh,
        "gelu" => Activation.Gelu,
        "identity" or "linear" or "none" => Activation.Identity,
        _ => throw new FormatException($"unknown activation '{name}'; use relu, erf, tanh, gelu or identity"),
    };
}

/// <summary>An activation as a module, so it appears in the layer list (and forward hooks can see it).</summary>
public sealed class ActivationLayer : nn.Module<Tensor, Tensor>
{
    public ActivationLayer(Activation kind) : base(kind.ToName()) => Kind = kind;

    public Activation Kind { get; }

    public override Tensor forward(Tensor x) => Apply(Kind, x);

    public static Tensor Apply(Activation kind, Tensor x) => kind switch
    {
        Activation.Relu => nn.functional.relu(x),
        Activation.Erf => torch.erf(x),
        Activation.Tanh => torch.tanh(x),
        Activation.Gelu => nn.functional.gelu(x),
        Activation.Identity => x.alias(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
