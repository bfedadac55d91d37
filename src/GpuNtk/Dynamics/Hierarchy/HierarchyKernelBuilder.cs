using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// Assembles K⁽²⁾, K⁽³⁾, K⁽⁴⁾ on probes A × training points T from directional derivatives (formulas and costs:
/// README.md in this folder). A point is an (example, output) pair x = (x_i, a) with f(x) = f_a(x_i)
/// (<see cref="OutputSelection"/>); with g_x = ∇f(x), H_x = ∇²f(x), T_x = ∇³f(x):
/// <list type="bullet">
/// <item>K2[a,b] = g_a·g_b;</item>
/// <item>K3[a,b,c] = H_a[g_b, g_c] + H_b[g_a, g_c];</item>
/// <item>K4[i,j,k,l] = T_i[g_j,g_k,g_l] + T_j[g_i,g_k,g_l] + ⟨H_i g_j, H_k g_l⟩ + ⟨H_i g_k, H_j g_l⟩
///   + ⟨H_i g_l, H_j g_k⟩ + ⟨H_j g_i, H_k g_l⟩.</item>
/// </list>
/// Points are U = [T; extra], where extra = A, or A's rows after the first n when A starts with T (the usual
/// "train ∪ test" probe set), so no training point is differentiated twice; U is also the direction set.
/// Work is a grid of (point, direction) rows processed in chunks that fit the memory budget.
/// </summary>
internal sealed class HierarchyKernelBuilder
{
    private readonly Func<Tensor, Tensor, IDirectionalDerivatives> _directions;
    private readonly HierarchyKernelOptions _options;
    private readonly ILogger _logger;
    private readonly Tensor _xu, _ou;
    private readonly long _n, _na, _nu, _aStart;
    private readonly Device _device;
    private readonly ScalarType _dtype;
    private IDirectionalDerivatives _d = null!;
    private double _workTotal, _workDone;

    /// <param name="directions">The backend for direction points (inputs, output indices).</param>
    /// <param name="probe">A: inputs and output indices.</param>
    /// <param name="train">T: inputs and output indices.</param>
    public HierarchyKernelBuilder(Func<Tensor, Tensor, IDirectionalDerivatives> directions, (Tensor X, Tensor Output) probe,
                                  (Tensor X, Tensor Output) train, HierarchyKernelOptions options)
    {
        _directions = directions;
        _options = options;
        _logger = options.Logger ?? NullLogger.Instance;
        _n = train.X.shape[0];
        _na = probe.X.shape[0];
        _device = train.X.device;
        _dtype = train.X.dtype;
        bool prefix = _na >= _n && probe.X.narrow(0, 0, _n).eq(train.X).all().item<bool>()
                                && probe.Output.narrow(0, 0, _n).eq(train.Output).all().item<bool>();
        _xu = prefix ? probe.X.alias() : cat([train.X, probe.X]);
        _ou = prefix ? probe.Output.alias() : cat([train.Output, probe.Output]);
        _nu = _xu.shape[0];
        // Rows u ≥ _aStart of U are the probes: a = u − _aStart.
        _aStart = prefix ? 0 : _n;
    }

    public HierarchyKernelSet Build(int maxOrder)
    {
        using var scope = NewDisposeScope();
        _d = _directions(_xu, _ou);
        if (maxOrder >= 4) CheckStoredHessianVectorProducts();
        long pairs = _n * (_n + 1) / 2;
        _workTotal = _nu + (maxOrder >= 3 ? 2.0 * _nu * _n : 0) + (maxOrder >= 4 ? 4.0 * _nu * pairs + 3.0 * (_n * _n + 2 * _na * _n) : 0);
        _logger.LogDebug("Hierarchy kernels up to K{Order}: {Probes} probes × {Train} training points ({Points} distinct points), {Backend}",
            maxOrder, _na, _n, _nu, _d.GetType().Name);

        // J[x, d] = g_x·g_d.
        var j = Grid(_nu, 1, 1, (u, _) => _d.FirstOrder(X(u), O(u)), _nu, 1);
        var k2 = j.narrow(0, _aStart, _na).narrow(1, 0, _n);
        if (maxOrder < 3) return new HierarchyKernelSet(k2.contiguous().MoveToOuterDisposeScope(), null, null);

        // B[x, e, d] = H_x[g_d, g_e], e ∈ T.
        var b = Grid(_nu, _n, 2, (u, e) => _d.SecondOrder(X(u), O(u), e), _nu, 2).view(_nu, _n, _nu);
        var k3 = b.narrow(0, _aStart, _na).narrow(2, 0, _n).permute(0, 2, 1)
                  .add(b.narrow(0, 0, _n).narrow(2, _aStart, _na).permute(2, 0, 1)).contiguous();
        if (maxOrder < 4) return new HierarchyKernelSet(k2.contiguous().MoveToOuterDisposeScope(), k3.MoveToOuterDisposeScope(), null);

        var k4 = FourthOrder(pairs);
        return new HierarchyKernelSet(k2.contiguous().MoveToOuterDisposeScope(), k3.MoveToOuterDisposeScope(), k4.MoveToOuterDisposeScope());
    }

    private Tensor FourthOrder(long pairs)
    {
        // Third derivatives Tr[x, (k ≤ l), d] = T_x[g_d, g_k, g_l].
        var (pk, pl, pairIndex) = Pairs();
        var tr = Grid(_nu, pairs, 3, (u, p) => _d.ThirdOrder(X(u), O(u), pk.index_select(0, p), pl.index_select(0, p)), _nu, 4)
                 .view(_nu, pairs, _nu);
        var ta = Unpack(tr.narrow(0, _aStart, _na).narrow(2, 0, _n), pairIndex);                       // [i, j, k, l]: T_i[g_j, g_k, g_l]
        var tt = Unpack(tr.narrow(0, 0, _n).narrow(2, _aStart, _na), pairIndex).permute(1, 0, 2, 3);    // [i, j, k, l]: T_j[g_i, g_k, g_l]

        // Hessian-vector products among training points, kept: columns (k, l) ↦ H_k g_l (their size checked up front).
        var columns = HessianVectorRows(0, _n, 0, _n);
        // S[i, c, (k, l)] = ⟨H_i g_c, H_k g_l⟩ (i ∈ A, c ∈ T) and S'[j, i, (k, l)] = ⟨H_j g_i, H_k g_l⟩ (j ∈ T, i ∈ A).
        var s = Grid(_na, _n, 2, (a, c) => _d.HessianVectorGram(_d.HessianVectorProducts(X(a.add(_aStart)), O(a.add(_aStart)), c), columns), _n * _n, 3)
                .view(_na, _n, _n, _n);
        var sp = Grid(_n, _na, 2, (jj, i) => _d.HessianVectorGram(_d.HessianVectorProducts(X(jj), O(jj), i.add(_aStart)), columns), _n * _n, 3)
                 .view(_n, _na, _n, _n);
        return s.add(s.permute(0, 2, 1, 3)).add_(s.permute(0, 2, 3, 1)).add_(sp.permute(1, 0, 2, 3)).add_(ta).add_(tt).contiguous();
    }

    /// <summary>K4 keeps the n² Hessian-vector products among training points: refuse before any work if they do not fit.</summary>
    private void CheckStoredHessianVectorProducts()
    {
        long keep = _n * _n * _d.HessianVectorBytesPerRow;
        if (keep > _options.MemoryBudgetBytes / 2)
            throw new ArgumentException($"K4 keeps the n² = {_n * _n} Hessian-vector products among training points ({keep >> 20} MiB), more than " +
                                        $"half the memory budget ({_options.MemoryBudgetBytes >> 20} MiB): use fewer training points or a smaller " +
                                        "network, raise MemoryBudgetBytes, or use the structured method (fully connected networks)");
    }

    /// <summary>
    /// Evaluates <paramref name="rows"/> on the grid (x ∈ [0, nx), y ∈ [0, ny)) in flat order x·ny + y, in chunks;
    /// each call returns <c>[R, width]</c>; the result is <c>[nx·ny, width]</c>.
    /// </summary>
    private Tensor Grid(long nx, long ny, int order, Func<Tensor, Tensor, Tensor> rows, long width, double weight)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long total = nx * ny;
        var result = empty(total, width, _dtype, _device);
        long chunk = Math.Max(1, _options.MemoryBudgetBytes / 2 / Math.Max(1, _d.BytesPerRow(order) + width * _dtype.ElementSize()));
        for (long start = 0; start < total; start += chunk)
        {
            _options.Cancellation.ThrowIfCancellationRequested();
            long count = Math.Min(chunk, total - start);
            using (NewDisposeScope())
            {
                var idx = arange(start, start + count, ScalarType.Int64, _device);
                result.narrow(0, start, count).copy_(rows(idx.div(ny, rounding_mode: RoundingMode.floor), idx.remainder(ny)));
            }
            Progress(count * weight);
        }
        _logger.LogDebug("{Rows} rows of order {Order} in {Chunk}-row chunks: {Seconds:F2} s", total, order, chunk, watch.Elapsed.TotalSeconds);
        return result;
    }

    /// <summary>H_x g_d for x ∈ [x0, x0+nx) of U and d ∈ [d0, d0+nd), flat x-major, concatenated over chunks.</summary>
    private Tensor[] HessianVectorRows(long x0, long nx, long d0, long nd)
    {
        long total = nx * nd;
        long chunk = Math.Max(1, _options.MemoryBudgetBytes / 4 / Math.Max(1, _d.BytesPerRow(2)));
        var parts = new List<Tensor[]>();
        for (long start = 0; start < total; start += chunk)
        {
            _options.Cancellation.ThrowIfCancellationRequested();
            long count = Math.Min(chunk, total - start);
            using var scope = NewDisposeScope();
            var idx = arange(start, start + count, ScalarType.Int64, _device);
            var u = idx.div(nd, rounding_mode: RoundingMode.floor).add(x0);
            var rows = _d.HessianVectorProducts(X(u), O(u), idx.remainder(nd).add(d0));
            parts.Add(rows.Select(t => t.MoveToOuterDisposeScope()).ToArray());
            Progress(count * 3);
        }
        return Enumerable.Range(0, parts[0].Length).Select(i => cat(parts.Select(p => p[i]).ToArray())).ToArray();
    }

    private Tensor X(Tensor u) => _xu.index_select(0, u);

    private Tensor O(Tensor u) => _ou.index_select(0, u);

    /// <summary>The pairs k ≤ l of training indices, and the flat n×n map from (k, l) to its pair.</summary>
    private (Tensor K, Tensor L, Tensor Index) Pairs()
    {
        var k = new List<long>();
        var l = new List<long>();
        var index = new long[_n * _n];
        for (long a = 0; a < _n; a++)
            for (long b = a; b < _n; b++)
            {
                index[a * _n + b] = index[b * _n + a] = k.Count;
                k.Add(a);
                l.Add(b);
            }
        return (tensor(k.ToArray(), device: _device), tensor(l.ToArray(), device: _device), tensor(index, device: _device));
    }

    /// <summary><c>[B, pairs, m]</c> → <c>[B, m, n, n]</c>, symmetric in the last two axes.</summary>
    private Tensor Unpack(Tensor byPair, Tensor pairIndex) =>
        byPair.permute(0, 2, 1).index_select(2, pairIndex).view(byPair.shape[0], byPair.shape[2], _n, _n);

    private void Progress(double work)
    {
        _workDone += work;
        _options.Progress?.Report(Math.Min(1, _workDone / _workTotal));
    }
}
