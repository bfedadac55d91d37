using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Directional derivatives from parameter-space rows (<see cref="IPerExampleDerivatives"/>): Hessian-vector products
/// and third-derivative contractions as <c>[R, P]</c> rows, projected onto the direction gradients <c>G_D [m, P]</c>.
/// Works for every backend (any architecture through the looped one); the memory traffic is O(P) per row.
/// </summary>
internal sealed class ProjectedDirectionalDerivatives : IDirectionalDerivatives
{
    private readonly IPerExampleDerivatives _rows;
    private readonly Tensor _gd;

    public ProjectedDirectionalDerivatives(IPerExampleDerivatives rows, Tensor directionPoints, Tensor directionOutputs)
    {
        _rows = rows;
        _gd = rows.Gradients(directionPoints, directionOutputs);
    }

    public long DirectionCount => _gd.shape[0];

    public long HessianVectorBytesPerRow => _rows.Parameters.Count * _gd.dtype.ElementSize();

    public long BytesPerRow(int order) => _rows.BytesPerRow(order) + DirectionCount * _gd.dtype.ElementSize();

    public Tensor FirstOrder(Tensor x, Tensor o) => Project(_rows.Gradients(x, o));

    public Tensor SecondOrder(Tensor x, Tensor o, Tensor e) => Project(_rows.HessianVectorProducts(x, _gd.index_select(0, e), o));

    public Tensor ThirdOrder(Tensor x, Tensor o, Tensor k, Tensor l) =>
        Project(_rows.ThirdDerivatives(x, _gd.index_select(0, k), _gd.index_select(0, l), o));

    public Tensor[] HessianVectorProducts(Tensor x, Tensor o, Tensor d) => [_rows.HessianVectorProducts(x, _gd.index_select(0, d), o)];

    public Tensor HessianVectorGram(Tensor[] left, Tensor[] right) => left[0].matmul(right[0].t());

    private Tensor Project(Tensor rows)
    {
        using var scope = NewDisposeScope();
        return rows.matmul(_gd.t()).MoveToOuterDisposeScope();
    }
}
