using System.CommandLine;
using static TorchSharp.torch;

namespace GpuNtk.Cli;

/// <summary>Options shared by several commands, and their mapping onto library types.</summary>
internal static class CommonOptions
{
    public const string DefaultArch = "fcn:depth=2,width=256,act=relu,param=ntk,in=3072,out=10";

    public static Option<string> Arch() => new("--arch")
    {
        Description = "Architecture spec, e.g. fcn:depth=2,width=512,act=relu,param=ntk,in=3072,out=10 | cnn:depth=1,channels=64 | wrn:depth=10,k=1",
        DefaultValueFactory = _ => DefaultArch,
    };

    public static Option<long> Seed() => new("--seed") { Description = "Seed of the initialisation and of any sampling.", DefaultValueFactory = _ => 0 };

    public static Option<string> DType() => new("--dtype") { Description = "float32 or float64.", DefaultValueFactory = _ => "float32" };

    public static Option<string> Device() => new("--device") { Description = "cpu, cuda, cuda:<i> or auto (CUDA when present).", DefaultValueFactory = _ => "auto" };

    public static ScalarType ParseDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float32" or "f32" or "float" => ScalarType.Float32,
        "float64" or "f64" or "double" => ScalarType.Float64,
        _ => throw new ArgumentException($"--dtype {text}: use float32 or float64"),
    };

    public static Device ParseDevice(string text) => GpuNtk.Devices.DeviceSelector.Parse(text);
}
