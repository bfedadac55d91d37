using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The <see cref="NtkImplementation.Reference"/> method as a tile-by-tile block kernel (what <see cref="EmpiricalNtk"/>
/// runs): <see cref="ReferenceNtk"/>'s explicit Jacobians <c>[b, O, P]</c> per tile. <see cref="ReferenceNtk"/> itself is
/// the whole-kernel oracle that tests call directly.
/// </summary>
internal sealed class ReferenceBlockKernel(ModelPlan plan) : INtkBlockKernel
{
    public NtkImplementation Implementation => NtkImplementation.Reference;

    private sealed class JacobianTile(Tensor j) : TileFeatures(j.shape[0])
    {
        public Tensor J { get; } = j;
        public override void Dispose() => J.Dispose();
    }

    public TileFeatures Prepare(Tensor x)
    {
        var j = ReferenceNtk.Jacobian(plan.Model, x);
        j.DetachFromDisposeScope();
        return new JacobianTile(j);
    }

    public Tensor Block(TileFeatures rows, TileFeatures columns, NtkOutput output)
    {
        var a = ((JacobianTile)rows).J;
        var b = ((JacobianTile)columns).J;
        using var acc = new NtkAccumulator(output, a.shape[0], b.shape[0], plan.Outputs, a.dtype, a.device);
        acc.AddJacobians(a, b);
        return acc.Result();
    }

    public Tensor Diagonal(TileFeatures tile, NtkOutput output) => Block(tile, tile, output);

    public long FeatureBytesPerExample => plan.ElementSize * plan.Outputs * plan.ParameterCount * 2;

    public long BlockBytesPerPair(NtkOutput output) => plan.ElementSize * plan.Outputs * plan.Outputs;
}
