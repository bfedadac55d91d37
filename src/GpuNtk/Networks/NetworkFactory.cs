using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Networks;

/// <summary>Builds networks from specs, initialised deterministically from a seed.</summary>
public static class NetworkFactory
{
    /// <summary>
    /// Builds and initialises the network for <paramref name="spec"/>. The same seed gives the same parameters on
    /// every device and in every dtype (values are drawn in float64 on the CPU, then converted).
    /// </summary>
    public static Network Create(ArchitectureSpec spec, long seed, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype {dtype} is not a floating-point type; use float32 or float64", nameof(dtype));
        var network = new Network(spec, Layers(spec));
        Initialize(network, seed);
        network.to(dtype);
        if (device is not null && device.type != DeviceType.CPU) network.to(device);
        return network;
    }

    /// <summary>Parses <paramref name="spec"/> (see <see cref="ArchitectureSpec.Parse"/>) and builds it.</summary>
    public static Network Create(string spec, long seed, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Create(ArchitectureSpec.Parse(spec), seed, dtype, device);

    /// <summary>Re-draws every parameter from <paramref name="seed"/>, layer by layer in forward order.</summary>
    public static void Initialize(Network network, long seed)
    {
        using var generator = new Generator((ulong)seed);
        foreach (var layer in network.ParameterizedLayers) layer.Initialize(generator);
    }

    private static IEnumerable<nn.Module<Tensor, Tensor>> Layers(ArchitectureSpec spec) => spec switch
    {
        FcnSpec f => FcnLayers(f),
        CnnSpec c => CnnLayers(c),
        WideResNetSpec w => WideResNetLayers(w),
        _ => throw new ArgumentException($"no builder for architecture kind {spec.Kind}"),
    };

    private static IEnumerable<nn.Module<Tensor, Tensor>> FcnLayers(FcnSpec s)
    {
        yield return new FlattenLayer();
        long fanIn = s.Inputs;
        for (long i = 0; i < s.Depth; i++)
        {
            yield return new DenseLayer(fanIn, s.Width, s.Parameterization, s.WStd, s.BStd);
            if (s.LayerNorm) yield return new LayerNormLayer();
            yield return new ActivationLayer(s.Activation);
            fanIn = s.Width;
        }
        yield return new DenseLayer(fanIn, s.Outputs, s.Parameterization, s.WStd, s.BStd);
    }

    private static IEnumerable<nn.Module<Tensor, Tensor>> CnnLayers(CnnSpec s)
    {
        yield return new ToImageLayer(s.InChannels, s.ImageSize);
        yield return new Conv2dLayer(s.InChannels, s.Channels, 3, 1, s.Parameterization, s.WStd, s.BStd);
        yield return new ActivationLayer(s.Activation);
        for (int stage = 0; stage < 3; stage++)
        {
            for (long d = 0; d < s.Depth; d++)
            {
                yield return new Conv2dLayer(s.Channels, s.Channels, 3, 1, s.Parameterization, s.WStd, s.BStd);
                yield return new ActivationLayer(s.Activation);
            }
            yield return stage < 2 ? new AveragePoolLayer(2) : new GlobalAveragePoolLayer();
        }
        yield return new DenseLayer(s.Channels, s.Outputs, s.Parameterization, s.WStd, s.BStd);
    }

    private static IEnumerable<nn.Module<Tensor, Tensor>> WideResNetLayers(WideResNetSpec s)
    {
        yield return new ToImageLayer(s.InChannels, s.ImageSize);
        yield return new Conv2dLayer(s.InChannels, 16, 3, 1, s.Parameterization, s.WStd, s.BStd);
        long c = 16;
        for (int g = 0; g < 3; g++)
        {
            for (long b = 0; b < s.BlocksPerGroup; b++)
            {
                long stride = b == 0 && g > 0 ? 2 : 1;
                yield return new ResidualBlock(c, s.GroupChannels[g], stride, s.Activation, s.Parameterization, s.WStd, s.BStd);
                c = s.GroupChannels[g];
            }
        }
        yield return new ActivationLayer(s.Activation);
        yield return new GlobalAveragePoolLayer();
        yield return new DenseLayer(c, s.Outputs, s.Parameterization, s.WStd, s.BStd);
    }
}
