using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GpuNtk.Data;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Cli.Commands;

/// <summary><c>gpuntk ntk</c>: the empirical NTK of a network on inputs from .npy files (or seeded random inputs).</summary>
internal static class NtkCommand
{
    public static Command Create()
    {
        var arch = CommonOptions.Arch();
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();
        var inputs = new Option<string?>("--inputs") { Description = "X1 as a .npy array [N, …]; omitted: --random examples from N(0, 1)." };
        var inputs2 = new Option<string?>("--inputs2") { Description = "X2 as a .npy array; omitted: X2 = X1 (symmetric)." };
        var random = new Option<int>("--random") { Description = "Number of random inputs when --inputs is omitted.", DefaultValueFactory = _ => 4 };
        var output = new Option<string>("--output") { Description = "full ([N1,N2,O,O]), trace ([N1,N2], mean over outputs) or diagonal.", DefaultValueFactory = _ => "trace" };
        var implementation = new Option<string>("--implementation") { Description = "auto, jc, vp, sd or reference.", DefaultValueFactory = _ => "auto" };
        var outPath = new Option<string?>("--out") { Description = "Write Θ to this .npy file." };
        var checkpoint = CheckpointOptions.Checkpoint();

        var command = new Command("ntk", "Compute the empirical neural tangent kernel Θ(X1, X2) of a network at initialisation.");
        foreach (var o in new Option[] { arch, inputs, inputs2, random, output, implementation, dtype, device, seed, outPath, checkpoint }) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var dt = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var dev = CommonOptions.ParseDevice(parse.GetValue(device)!);
            using var net = NetworkFactory.Create(parse.GetValue(arch)!, parse.GetValue(seed), dt, dev);
            CheckpointOptions.Apply(net, parse.GetValue(checkpoint));
            var x1 = LoadInputs(parse.GetValue(inputs), net.Spec, parse.GetValue(random), parse.GetValue(seed), dt, dev);
            var x2Path = parse.GetValue(inputs2);
            var x2 = x2Path is null ? null : LoadInputs(x2Path, net.Spec, 0, 0, dt, dev);
            var options = new NtkOptions(ParseOutput(parse.GetValue(output)!), ParseImplementation(parse.GetValue(implementation)!));
            var watch = Stopwatch.StartNew();
            using var theta = EmpiricalNtk.Compute(net, x1, x2, options);
            watch.Stop();
            var path = parse.GetValue(outPath);
            if (path is not null) NpyFile.Write(path, theta);
            else if (theta.numel() <= 400) Console.WriteLine(theta.cpu().ToString(TorchSharp.TensorStringStyle.Numpy));
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                arch = net.Spec.ToString(), shape = theta.shape, output = options.Output.ToString().ToLowerInvariant(),
                implementation = options.Implementation.ToString(), dtype = dt.ToString().ToLowerInvariant(),
                device = dev.ToString(), seconds = Math.Round(watch.Elapsed.TotalSeconds, 6), @out = path,
            }));
            return 0;
        }));
        return command;
    }

    private static Tensor LoadInputs(string? path, ArchitectureSpec spec, int count, long seed, ScalarType dtype, Device device)
    {
        if (path is null)
        {
            if (count < 1) throw new ArgumentException("--random must be ≥ 1");
            using var g = new Generator((ulong)seed + 1);
            return randn([count, spec.InputSize], ScalarType.Float64, CPU, generator: g).to(dtype, device);
        }
        var x = NpyFile.Read(path);
        if (x.dim() < 2 || x.numel() / x.shape[0] != spec.InputSize)
            throw new ArgumentException($"{path}: shape [{string.Join(", ", x.shape)}] does not fit {spec} " +
                                        $"(expected [N, {spec.InputSize}] or [N, …] with {spec.InputSize} features per example)");
        return x.to(dtype, device);
    }

    private static NtkOutput ParseOutput(string text) => text.Trim().ToLowerInvariant() switch
    {
        "full" => NtkOutput.Full,
        "trace" or "traced" => NtkOutput.Trace,
        "diagonal" or "diag" => NtkOutput.DiagonalTrace,
        "diagonal-full" => NtkOutput.DiagonalFull,
        _ => throw new ArgumentException($"--output {text}: use full, trace, diagonal or diagonal-full"),
    };

    private static NtkImplementation ParseImplementation(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => NtkImplementation.Auto,
        "reference" or "ref" => NtkImplementation.Reference,
        "jc" or "jacobian" => NtkImplementation.JacobianContraction,
        "vp" or "ntk-vp" => NtkImplementation.VectorProducts,
        "sd" or "structured" => NtkImplementation.Structured,
        _ => throw new ArgumentException($"--implementation {text}: use auto, jc, vp, sd or reference"),
    };
}
