using System.Globalization;

namespace GpuNtk.Samples.InfiniteWidthRegression;

/// <summary>Command-line options of the sample (<c>--key value</c>); every one has a default.</summary>
internal sealed record SampleOptions
{
    public string Arch { get; init; } = "fcn:depth=2,act=relu,in=3072,out=10";
    public string Data { get; init; } = "synthetic";
    public string DataRoot { get; init; } = "data";
    public int Train { get; init; } = 1000;
    public int Test { get; init; } = 1000;
    public double Regularizer { get; init; } = 1e-4;
    public long[] Widths { get; init; } = [64, 128, 256, 512, 1024, 2048];
    public int Seeds { get; init; } = 8;
    public int ConvergenceInputs { get; init; } = 8;
    public string Out { get; init; } = Path.Combine("out", "InfiniteWidthRegression");

    public const string Usage = """
        InfiniteWidthRegression [--arch SPEC] [--data synthetic|cifar10|DIR] [--data-root data] [--train N] [--test N] [--regularizer R]
                                [--widths 64,128,…] [--seeds S] [--convergence-inputs N] [--out DIR]
          --data synthetic (default; generated under --data-root when absent) or cifar10 (`gpuntk data cifar10` first);
          --data DIR reads x_train.npy, y_train.npy, x_test.npy, y_test.npy (features [N, …], integer labels [N]).
        """;

    public static SampleOptions Parse(string[] args)
    {
        var o = new SampleOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string key = args[i];
            if (key is "-h" or "--help") throw new ArgumentException(Usage);
            if (i + 1 >= args.Length) throw new ArgumentException($"{key} needs a value\n{Usage}");
            string v = args[++i];
            o = key switch
            {
                "--arch" => o with { Arch = v },
                "--data" => o with { Data = v },
                "--data-root" => o with { DataRoot = v },
                "--train" => o with { Train = int.Parse(v, CultureInfo.InvariantCulture) },
                "--test" => o with { Test = int.Parse(v, CultureInfo.InvariantCulture) },
                "--regularizer" => o with { Regularizer = double.Parse(v, CultureInfo.InvariantCulture) },
                "--widths" => o with { Widths = v.Split(',').Select(w => long.Parse(w, CultureInfo.InvariantCulture)).ToArray() },
                "--seeds" => o with { Seeds = int.Parse(v, CultureInfo.InvariantCulture) },
                "--convergence-inputs" => o with { ConvergenceInputs = int.Parse(v, CultureInfo.InvariantCulture) },
                "--out" => o with { Out = v },
                _ => throw new ArgumentException($"unknown option {key}\n{Usage}"),
            };
        }
        if (o.Train < 2 || o.Test < 1 || o.Seeds < 1 || o.ConvergenceInputs < 2 || o.Widths.Length < 2 || o.Widths.Any(w => w < 1))
            throw new ArgumentException($"--train ≥ 2, --test ≥ 1, --seeds ≥ 1, --convergence-inputs ≥ 2 and at least two positive widths\n{Usage}");
        return o;
    }
}
