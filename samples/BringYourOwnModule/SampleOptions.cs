using System.Globalization;

namespace GpuNtk.Samples.BringYourOwnModule;

/// <summary><c>--steps N --out DIR [--init FILE.pt] [--train-size N] [--data-dir DIR]</c>.</summary>
internal sealed record SampleOptions(long Steps, string Out, string? Init, int TrainSize, string DataRoot)
{
    public static SampleOptions Parse(string[] args)
    {
        var o = new SampleOptions(50, Path.Combine("runs", "byom"), null, 2000, "data");
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--steps" => o with { Steps = long.Parse(Value(), CultureInfo.InvariantCulture) },
                "--out" => o with { Out = Value() },
                "--init" => o with { Init = Value() },
                "--train-size" => o with { TrainSize = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--data-dir" => o with { DataRoot = Value() },
                _ => throw new ArgumentException($"unknown option {args[i]}: use --steps N --out DIR [--init FILE.pt] [--train-size N] [--data-dir DIR]"),
            };
        }
        return o;
    }
}
