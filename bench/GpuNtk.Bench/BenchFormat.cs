using System.Globalization;
using GpuNtk.Kernels.Empirical;

namespace GpuNtk.Bench;

/// <summary>How the bench's tables write implementations, architectures and sizes.</summary>
internal static class BenchFormat
{
    public static string Name(NtkImplementation i) => i switch
    {
        NtkImplementation.Structured => "sd",
        NtkImplementation.JacobianContraction => "jc",
        NtkImplementation.VectorProducts => "vp",
        NtkImplementation.Reference => "reference",
        _ => i.ToString(),
    };

    public static string Short(string arch) => arch.Replace(",act=relu,param=ntk", "", StringComparison.Ordinal);

    public static string Mb(long? bytes) => bytes is long b ? (b / (double)(1 << 20)).ToString("F0", CultureInfo.InvariantCulture) : "n/a";

    public static string Seconds(double s) => s.ToString("G4", CultureInfo.InvariantCulture);
}
