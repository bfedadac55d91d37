using System.CommandLine;
using GpuNtk.Networks;

namespace GpuNtk.Cli.Commands;

/// <summary><c>gpuntk info</c>: the canonical spec, layers and parameter count of an architecture.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var arch = CommonOptions.Arch();
        var command = new Command("info", "Build a network from its spec and print its canonical spec, layers and parameter shapes, and whether CUDA is usable.");
        command.Options.Add(arch);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            using var net = NetworkFactory.Create(parse.GetValue(arch)!, seed: 0);
            Console.WriteLine($"spec       {net.Spec}");
            Console.WriteLine($"parameters {net.ParameterCount:N0}");
            foreach (var (name, p) in net.named_parameters())
                Console.WriteLine($"  {name,-28} {string.Join("×", p.shape)}");
            bool gpu = TorchSharp.torch.cuda.is_available();
            Console.WriteLine($"cuda       {(gpu ? $"{TorchSharp.torch.cuda.device_count()} device(s); TF32 {(TorchSharp.torch.backends.cuda.matmul.allow_tf32 ? "on" : "off")}" : "not usable (CPU libtorch, or no device)")}");
            return 0;
        }));
        return command;
    }
}
