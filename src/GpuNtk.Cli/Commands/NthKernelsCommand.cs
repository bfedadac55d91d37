using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using GpuNtk.Cli.Logging;
using GpuNtk.Data;
using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// <c>gpuntk nth kernels</c>: K⁽²⁾ = Θ, K⁽³⁾ or K⁽⁴⁾ of the neural tangent hierarchy of a network (at initialisation or
/// at --checkpoint weights) on inputs from .npy files — the library's <see cref="HierarchyKernels"/>.
/// </summary>
internal static class NthKernelsCommand
{
    public static Command Create()
    {
        var arch = CommonOptions.Arch();
        var seed = CommonOptions.Seed();
        var dtype = CommonOptions.DType();
        dtype.DefaultValueFactory = _ => "float64";
        var device = CommonOptions.Device();
        var checkpoint = CheckpointOptions.Checkpoint();
        var inputs = new Option<string?>("--inputs") { Description = "X1 as a .npy array [N1, …]; omitted: --random examples from N(0, 1)." };
        var inputs2 = new Option<string?>("--inputs2") { Description = "X2 (the points of the 2nd…r-th arguments) as a .npy array [N2, …]; omitted: X2 = X1." };
        var random = new Option<int>("--random") { Description = "Number of random inputs when --inputs is omitted.", DefaultValueFactory = _ => 4 };
        var order = new Option<int>("--order") { Description = "2 (Θ, [N1, N2]), 3 ([N1, N2, N2]) or 4 ([N1, N2, N2, N2]).", DefaultValueFactory = _ => 3 };
        var full = new Option<bool>("--full") { Description = "Full output axes: K⁽ʳ⁾ gets r axes of size O after its r example axes." };
        var trace = new Option<bool>("--trace") { Description = "Traced (the default): the mean over outputs a of the kernels of the scalar network f_a." };
        var method = new Option<string>("--method") { Description = "auto, structured (dense networks), rows (dense, per-example parameter copies) or looped (any network).", DefaultValueFactory = _ => "auto" };
        var budget = new Option<double>("--memory-budget-mb") { Description = "Working memory of the computation, MiB: sets how many rows go through autograd at once (the kernel itself is extra).", DefaultValueFactory = _ => 2048 };
        var outPath = new Option<string?>("--out") { Description = "Write the kernel to this .npy file." };

        var command = new Command("kernels", "Compute K⁽²⁾ = Θ, K⁽³⁾ or K⁽⁴⁾ of the neural tangent hierarchy (K⁽ʳ⁺¹⁾ = ⟨∇θK⁽ʳ⁾, ∇θf⟩) of a network on inputs from .npy files.");
        foreach (var o in new Option[] { arch, checkpoint, inputs, inputs2, random, order, full, trace, method, dtype, device, seed, budget, outPath })
            command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(() =>
        {
            if (parse.GetValue(full) && parse.GetValue(trace)) throw new ArgumentException("--full and --trace exclude each other: pick one");
            var output = parse.GetValue(full) ? NtkOutput.Full : NtkOutput.Trace;
            int r = parse.GetValue(order);
            if (r is < 2 or > 4) throw new ArgumentException($"--order {r}: use 2, 3 or 4");
            var chosen = ParseMethod(parse.GetValue(method)!);
            double mb = parse.GetValue(budget);
            if (!(mb >= 1)) throw new ArgumentException($"--memory-budget-mb {mb}: give at least 1");
            var dt = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var dev = CommonOptions.ParseDevice(parse.GetValue(device)!);
            using var net = NetworkFactory.Create(parse.GetValue(arch)!, parse.GetValue(seed), dt, dev);
            CheckpointOptions.Apply(net, parse.GetValue(checkpoint));
            var x1 = KernelInputs.Load(parse.GetValue(inputs), "--inputs", net.Spec, parse.GetValue(random), parse.GetValue(seed), dt, dev);
            var x2 = parse.GetValue(inputs2) is { } path2 ? KernelInputs.Load(path2, "--inputs2", net.Spec, 0, 0, dt, dev) : x1;
            var shape = Shape(r, x1.shape[0], x2.shape[0], output == NtkOutput.Full ? net.Spec.Outputs : 0);
            CheckSize(shape, dt);

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            try
            {
                using var loggers = CliLogging.Create(toStandardError: true);
                var options = new HierarchyKernelOptions(chosen, (long)(mb * (1 << 20)), TerminalProgress.Create("nth kernels"), cancel.Token,
                                                         loggers.CreateLogger("gpuntk"), output);
                var watch = Stopwatch.StartNew();
                using var set = Translated(() => HierarchyKernels.Compute(net, x1, x2, r, options));
                watch.Stop();
                var k = set.Order(r);
                var path = parse.GetValue(outPath);
                if (path is not null) NpyFile.Write(path, k);
                else if (k.numel() <= 400) Console.WriteLine(k.cpu().ToString(TorchSharp.TensorStringStyle.Numpy));
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    arch = net.Spec.ToString(), order = r, shape = k.shape, output = output == NtkOutput.Full ? "full" : "trace",
                    method = MethodName(chosen, net), dtype = dt.ToString().ToLowerInvariant(), device = dev.ToString(),
                    checkpoint = parse.GetValue(checkpoint), seconds = Math.Round(watch.Elapsed.TotalSeconds, 6), @out = path,
                }));
            }
            finally { Console.CancelKeyPress -= onCancel; }
            return 0;
        }));
        return command;
    }

    /// <summary>The library's option names in its messages, as this command's flags.</summary>
    private static T Translated<T>(Func<T> body)
    {
        try
        {
            return body();
        }
        catch (ArgumentException e) when (e.Message.Contains("MemoryBudgetBytes") || e.Message.Contains("structured method"))
        {
            throw new ArgumentException(e.Message.Replace("raise MemoryBudgetBytes", "raise --memory-budget-mb")
                .Replace("MemoryBudgetBytes", "--memory-budget-mb").Replace("use the structured method", "use --method structured")
                .Replace("use Auto, ParameterRows or Looped", "use --method auto, rows or looped").Replace("; use Looped", "; use --method looped"), e);
        }
    }

    /// <summary>K⁽ʳ⁾'s shape: N1, then r − 1 times N2, then r output axes when full (<paramref name="outputs"/> &gt; 0).</summary>
    private static long[] Shape(int r, long n1, long n2, long outputs) =>
        [n1, .. Enumerable.Repeat(n2, r - 1), .. Enumerable.Repeat(outputs, outputs > 0 ? r : 0)];

    /// <summary>The kernel is held in memory whole: refuse one that cannot fit, before any work.</summary>
    private static void CheckSize(long[] shape, ScalarType dtype)
    {
        double bytes = shape.Aggregate(1.0, (p, s) => p * s) * (dtype == ScalarType.Float64 ? 8 : 4);
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available / 2)
            throw new ArgumentException($"the kernel [{string.Join(", ", shape)}] needs {bytes / (1 << 30):F1} GiB, more than half of this machine's " +
                                        $"{available / (1 << 30):F1} GiB: use fewer inputs (--inputs/--inputs2), a lower --order, or --trace instead of --full");
    }

    private static HierarchyKernelMethod ParseMethod(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => HierarchyKernelMethod.Auto,
        "structured" or "sd" => HierarchyKernelMethod.Structured,
        "rows" or "parameter-rows" => HierarchyKernelMethod.ParameterRows,
        "looped" or "loop" => HierarchyKernelMethod.Looped,
        _ => throw new ArgumentException($"--method {text}: use auto, structured, rows or looped"),
    };

    private static string MethodName(HierarchyKernelMethod m, Network net) => m switch
    {
        HierarchyKernelMethod.Structured => "structured",
        HierarchyKernelMethod.ParameterRows => "rows",
        HierarchyKernelMethod.Looped => "looped",
        _ => HierarchyKernels.ResolveMethod(net) == HierarchyKernelMethod.Structured ? "structured" : "looped",
    };
}
