using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// The kernel on the training set (train×train) read in the conventions of <c>src/GpuNtk/Kernels/README.md</c>, as the n×n matrix that acts on
/// outputs arranged as n×c columns:
/// <list type="bullet">
/// <item><b>traced</b> <c>[N, N]</c>: Θ ⊗ I_O — n = N, and each of the c = O output columns evolves separately;</item>
/// <item><b>full</b> <c>[N, N, O, O]</c> or flattened <c>[N·O, N·O]</c> (rows example-major, <c>i·O + a</c>):
/// n = N·O, c = 1.</item>
/// </list>
/// Which one is decided from the targets <c>[N, O]</c>: <c>[N, N]</c> is traced, <c>[N·O, N·O]</c> (O &gt; 1) is
/// flattened full. Owns its eigendecomposition (negative eigenvalues clipped to 0) and Cholesky factor, both computed
/// once on first use. Its tensors belong to it (no dispose scope). Internal: the predictors are the public face.
/// </summary>
internal sealed class TrainSetKernel : IDisposable
{
    private Tensor? _eigenvalues;
    private Tensor? _eigenvectors;
    private Tensor? _cholesky;

    public TrainSetKernel(Tensor kernel, Tensor targets, double diagonalRegularization, bool absoluteRegularization, string argument)
    {
        ArgumentNullException.ThrowIfNull(kernel, argument);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.dim() is not (1 or 2))
            throw new ArgumentException($"targets must be [N, O] (or [N] for one output), got [{Shape(targets)}]", nameof(targets));
        if (!(diagonalRegularization >= 0) || double.IsInfinity(diagonalRegularization))
            throw new ArgumentException($"the diagonal regularization must be finite and ≥ 0, got {diagonalRegularization}");
        Examples = targets.shape[0];
        Outputs = targets.dim() == 2 ? targets.shape[1] : 1;
        if (!kernel.is_floating_point())
            throw new ArgumentException($"{argument} must be a floating-point tensor, got {kernel.dtype}", argument);
        using var scope = NewDisposeScope();
        Tensor matrix;
        if (kernel.dim() == 4 && kernel.shape.SequenceEqual(new[] { Examples, Examples, Outputs, Outputs }))
        {
            IsTraced = false;
            matrix = Flatten(kernel);
        }
        else if (kernel.dim() == 2 && kernel.shape[0] == Examples && kernel.shape[1] == Examples)
        {
            IsTraced = true;
            matrix = kernel;
        }
        else if (kernel.dim() == 2 && kernel.shape[0] == Examples * Outputs && kernel.shape[1] == Examples * Outputs)
        {
            IsTraced = false;
            matrix = kernel;
        }
        else
        {
            throw new ArgumentException(
                $"{argument} has shape [{Shape(kernel)}], which fits neither the traced [{Examples}, {Examples}] nor the full " +
                $"[{Examples}, {Examples}, {Outputs}, {Outputs}] / [{Examples * Outputs}, {Examples * Outputs}] layout for targets " +
                $"[{Shape(targets)}] (see src/GpuNtk/Kernels/README.md)", argument);
        }
        // Symmetrize: kernels assembled from blocks carry rounding asymmetry that eigh would silently ignore.
        matrix = matrix.add(matrix.transpose(0, 1)).mul_(0.5);
        if (diagonalRegularization > 0)
        {
            var scale = absoluteRegularization ? diagonalRegularization : diagonalRegularization * matrix.diagonal().mean().item<double>();
            matrix = matrix.add(eye(matrix.shape[0], dtype: matrix.dtype, device: matrix.device).mul_(scale));
        }
        Matrix = matrix.contiguous().DetachFromDisposeScope();
        Targets = ToColumns(targets.to(Matrix.dtype, Matrix.device)).clone().DetachFromDisposeScope();
    }

    /// <summary>N.</summary>
    public long Examples { get; }
    /// <summary>O.</summary>
    public long Outputs { get; }
    /// <summary>True when the kernel is Θ ⊗ I_O given as <c>[N, N]</c>.</summary>
    public bool IsTraced { get; }
    /// <summary>The (regularized) n×n matrix.</summary>
    public Tensor Matrix { get; }
    /// <summary>y as n×c columns.</summary>
    public Tensor Targets { get; }
    public long Size => Matrix.shape[0];
    public ScalarType DType => Matrix.dtype;
    public Device Device => Matrix.device;

    /// <summary>Eigenvalues (ascending, clipped at 0) and eigenvectors of <see cref="Matrix"/>.</summary>
    public (Tensor Values, Tensor Vectors) Eigen
    {
        get
        {
            if (_eigenvalues is null)
            {
                using var scope = NewDisposeScope();
                var (values, vectors) = linalg.eigh(Matrix);
                _eigenvalues = values.clamp_min(0).DetachFromDisposeScope();
                _eigenvectors = vectors.DetachFromDisposeScope();
            }
            return (_eigenvalues, _eigenvectors!);
        }
    }

    /// <summary>λ_max of the matrix, as a host number (one device read).</summary>
    public double MaxEigenvalue => Eigen.Values[-1].to(ScalarType.Float64).item<double>();

    /// <summary>K⁻¹·B for B with n rows, by a cached Cholesky factorization.</summary>
    public Tensor Solve(Tensor b)
    {
        if (_cholesky is null)
        {
            using var scope = NewDisposeScope();
            var (factor, info) = linalg.cholesky_ex(Matrix);
            if (info.ne(0).any().item<bool>())
                throw new ArgumentException(
                    "the train×train kernel is not positive definite, so the t = ∞ solution is not unique: " +
                    "pass a positive diagonal regularization (e.g. 1e-6, relative to the mean diagonal)");
            _cholesky = factor.DetachFromDisposeScope();
        }
        return b.cholesky_solve(_cholesky);
    }

    /// <summary>[N, O] (or [N]) outputs → n×c columns.</summary>
    public Tensor ToColumns(Tensor f) => ToColumns(f, Examples, "train");

    /// <summary>[…, n, c] columns → […, N, O] outputs for <paramref name="examples"/> examples.</summary>
    public Tensor FromColumns(Tensor columns, long examples)
    {
        var lead = columns.shape.Take((int)columns.dim() - 2).ToArray();
        return columns.reshape([.. lead, examples, Outputs]);
    }

    /// <summary>Outputs on another set (<paramref name="examples"/> rows) → m×c columns.</summary>
    public Tensor ToColumns(Tensor f, long examples, string what)
    {
        var f2 = f.dim() == 1 ? f.unsqueeze(1) : f;
        if (f2.dim() != 2 || f2.shape[0] != examples || f2.shape[1] != Outputs)
            throw new ArgumentException($"{what} outputs have shape [{Shape(f)}]; expected [{examples}, {Outputs}]");
        return IsTraced ? f2 : f2.reshape(examples * Outputs, 1);
    }

    /// <summary>
    /// A test×train kernel in the same layout → the m×n matrix, m = M (traced) or M·O (full); returns M as well.
    /// </summary>
    public (Tensor Matrix, long Examples) TestMatrix(Tensor kTestTrain, string argument)
    {
        ArgumentNullException.ThrowIfNull(kTestTrain, argument);
        long n = Examples, o = Outputs;
        if (IsTraced)
        {
            if (kTestTrain.dim() == 2 && kTestTrain.shape[1] == n) return (kTestTrain.to(DType, Device), kTestTrain.shape[0]);
        }
        else if (kTestTrain.dim() == 4 && kTestTrain.shape[1] == n && kTestTrain.shape[2] == o && kTestTrain.shape[3] == o)
        {
            return (Flatten(kTestTrain).to(DType, Device), kTestTrain.shape[0]);
        }
        else if (kTestTrain.dim() == 2 && kTestTrain.shape[1] == n * o && kTestTrain.shape[0] % o == 0)
        {
            return (kTestTrain.to(DType, Device), kTestTrain.shape[0] / o);
        }
        string expected = IsTraced ? $"[M, {n}] (traced, like the train kernel)" : $"[M, {n}, {o}, {o}] or [M·{o}, {n * o}] (full, like the train kernel)";
        throw new ArgumentException($"{argument} has shape [{Shape(kTestTrain)}]; expected {expected}", argument);
    }

    /// <summary>A test×test kernel in the same layout → the m×m matrix.</summary>
    public Tensor TestTestMatrix(Tensor kTestTest, long examples, string argument)
    {
        ArgumentNullException.ThrowIfNull(kTestTest, argument);
        long o = Outputs;
        if (IsTraced && kTestTest.dim() == 2 && kTestTest.shape[0] == examples && kTestTest.shape[1] == examples)
            return kTestTest.to(DType, Device);
        if (!IsTraced && kTestTest.dim() == 4 && kTestTest.shape.SequenceEqual(new[] { examples, examples, o, o }))
            return Flatten(kTestTest).to(DType, Device);
        if (!IsTraced && kTestTest.dim() == 2 && kTestTest.shape[0] == examples * o && kTestTest.shape[1] == examples * o)
            return kTestTest.to(DType, Device);
        string expected = IsTraced ? $"[{examples}, {examples}]" : $"[{examples}, {examples}, {o}, {o}] or [{examples * o}, {examples * o}]";
        throw new ArgumentException($"{argument} has shape [{Shape(kTestTest)}]; expected {expected}", argument);
    }

    /// <summary>[N1, N2, O, O] → [N1·O, N2·O], example-major.</summary>
    public static Tensor Flatten(Tensor full) =>
        full.permute(0, 2, 1, 3).reshape(full.shape[0] * full.shape[2], full.shape[1] * full.shape[3]);

    /// <summary>[N1·O, N2·O] → [N1, N2, O, O].</summary>
    public static Tensor Unflatten(Tensor flat, long outputs) =>
        flat.reshape(flat.shape[0] / outputs, outputs, flat.shape[1] / outputs, outputs).permute(0, 2, 1, 3).contiguous();

    internal static string Shape(Tensor t) => string.Join(", ", t.shape);

    public void Dispose()
    {
        Matrix.Dispose();
        Targets.Dispose();
        _eigenvalues?.Dispose();
        _eigenvectors?.Dispose();
        _cholesky?.Dispose();
    }
}
