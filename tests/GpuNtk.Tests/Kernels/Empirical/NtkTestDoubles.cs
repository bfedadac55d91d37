using GpuNtk.Kernels.Empirical;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>A block kernel that only states its memory costs, for tile-size arithmetic.</summary>
internal sealed class FixedCostKernel(long featureBytes, long pairBytes) : INtkBlockKernel
{
    public NtkImplementation Implementation => NtkImplementation.Structured;
    public TileFeatures Prepare(Tensor x) => throw new NotSupportedException();
    public Tensor Block(TileFeatures rows, TileFeatures columns, NtkOutput output) => throw new NotSupportedException();
    public Tensor Diagonal(TileFeatures tile, NtkOutput output) => throw new NotSupportedException();
    public long FeatureBytesPerExample => featureBytes;
    public long BlockBytesPerPair(NtkOutput output) => pairBytes;
}

/// <summary>Progress that calls back synchronously (unlike <see cref="Progress{T}"/>, which posts to a context).</summary>
internal sealed class ProgressRecorder(Action<double> onReport) : IProgress<double>
{
    public void Report(double value) => onReport(value);
}
