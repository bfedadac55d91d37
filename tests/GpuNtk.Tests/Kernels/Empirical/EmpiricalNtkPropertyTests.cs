using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>Properties Θ must have whatever computes it, checked against computations that do not share code with it.</summary>
public sealed class EmpiricalNtkPropertyTests
{
    [TestCase(Fcn)]
    [TestCase(Cnn)]
    public void SymmetricKernelIsSymmetricPositiveSemidefinite(string arch)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(arch, seed: 2, ScalarType.Float64);
        var x = Inputs(net, 7, seed: 21);
        var theta = AsMatrix(EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full, NtkImplementation.Structured, BlockSize: 3)));
        double scale = theta.abs().max().item<double>();
        Assert.That((theta - theta.t()).abs().max().item<double>(), Is.LessThan(1e-12 * scale), "Θ = Θᵀ");
        var eigenvalues = linalg.eigvalsh(theta);
        Assert.That(eigenvalues.min().item<double>(), Is.GreaterThan(-1e-10 * scale), "Θ ⪰ 0");
        Assert.That(eigenvalues.max().item<double>(), Is.GreaterThan(0));

        var traced = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Trace, NtkImplementation.Structured, BlockSize: 3));
        Assert.That((traced - traced.t()).abs().max().item<double>(), Is.LessThan(1e-12 * scale));
        Assert.That(linalg.eigvalsh(traced).min().item<double>(), Is.GreaterThan(-1e-10 * scale));
    }

    /// <summary>Θ(x_i, x_i)[a, a] = ‖∂f_a(x_i)/∂θ‖², by autograd on one example and one output at a time.</summary>
    [TestCase(Fcn)]
    [TestCase(Wrn)]
    public void DiagonalEqualsSquaredGradientNorms(string arch)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(arch, seed: 4, ScalarType.Float64);
        var x = Inputs(net, 4, seed: 22);
        var ps = net.parameters().ToArray();
        var norms = zeros(4, 3, ScalarType.Float64);
        for (long i = 0; i < 4; i++)
        {
            var f = net.forward(x.narrow(0, i, 1));
            for (long a = 0; a < 3; a++)
            {
                var grads = autograd.grad([f[0, a]], ps, retain_graph: true);
                norms[i, a] = grads.Select(g => g.square().sum()).Aggregate((s, t) => s + t);
            }
        }
        var diag = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.DiagonalFull, NtkImplementation.Structured));
        Assert.That(RelativeError(diag.diagonal(0, 1, 2), norms), Is.LessThan(1e-10));
        var traced = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.DiagonalTrace));
        Assert.That(RelativeError(traced, norms.mean([1L])), Is.LessThan(1e-10), "traced diagonal = mean over outputs");
        var fullKernel = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.Full));
        Assert.That(RelativeError(fullKernel.diagonal(0, 0, 1).diagonal(0, 0, 1), norms), Is.LessThan(1e-10),
            "the diagonal of the full kernel");
    }

    /// <summary>
    /// Every implementation in float32 against the float64 oracle, with 1 and 2 threads (libtorch's float32 CPU
    /// convolutions once gave wrong, thread-dependent gradients: see <c>OneDnnSafeConv2d</c>), two seeds, odd shapes.
    /// </summary>
    [TestCase(Fcn, 1)]
    [TestCase(Cnn, 1)]
    [TestCase(Cnn, 2)]
    [TestCase("cnn:depth=1,channels=5,size=12,out=3", 1)]
    [TestCase(Wrn, 1)]
    [TestCase(Wrn, 2)]
    [TestCase("wrn:depth=10,k=1,size=4,out=2", 1)]
    public void Float32AgreesWithFloat64ForEveryImplementation(string arch, int threads)
    {
        int before = get_num_threads();
        set_num_threads(threads);
        try
        {
            foreach (long seed in new long[] { 6, 61 })
            {
                using var scope = NewDisposeScope();
                using var net64 = NetworkFactory.Create(arch, seed, ScalarType.Float64);
                using var net32 = NetworkFactory.Create(arch, seed, ScalarType.Float32);
                var x64 = Inputs(net64, 5, seed: (ulong)seed + 17);
                var x32 = x64.to(ScalarType.Float32);
                var expected = ReferenceNtk.Compute(net64, x64, null, NtkOutput.Full);
                var expectedTrace = expected.diagonal(0, 2, 3).mean([-1L]);
                foreach (var impl in Fast.Append(NtkImplementation.Reference))
                {
                    var theta = EmpiricalNtk.Compute(net32, x32, null, new NtkOptions(NtkOutput.Full, impl, BlockSize: 2));
                    Assert.That(theta.dtype, Is.EqualTo(ScalarType.Float32));
                    Assert.That(RelativeError(theta, expected), Is.LessThan(1e-4), $"{impl} full, seed {seed}, {threads} thread(s)");
                    var traced = EmpiricalNtk.Compute(net32, x32, null, new NtkOptions(NtkOutput.Trace, impl, BlockSize: 3));
                    Assert.That(RelativeError(traced, expectedTrace), Is.LessThan(1e-4), $"{impl} traced, seed {seed}, {threads} thread(s)");
                }
            }
        }
        finally { set_num_threads(before); }
    }

    [Test]
    public void VectorProductIsKernelTimesVector()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Cnn, seed: 7, ScalarType.Float64);
        var x1 = Inputs(net, 4, seed: 24);
        var x2 = Inputs(net, 3, seed: 25);
        var v = randn(3, 3, ScalarType.Float64);
        var theta = AsMatrix(ReferenceNtk.Compute(net, x1, x2, NtkOutput.Full)); // [N1·O, N2·O]
        var expected = theta.matmul(v.reshape(-1)).reshape(4, 3);
        Assert.That(RelativeError(EmpiricalNtk.VectorProduct(net, x1, x2, v), expected), Is.LessThan(1e-10));
    }

    [Test]
    public void InputsMustMatchTheModel()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(Fcn, seed: 1, ScalarType.Float64);
        var x = Inputs(net, 3, seed: 1);
        Assert.Throws<ArgumentException>(() => EmpiricalNtk.Compute(net, x.to(ScalarType.Float32)), "dtype mismatch");
        Assert.Throws<ArgumentException>(() => EmpiricalNtk.Compute(net, x, x, new NtkOptions(NtkOutput.DiagonalFull)), "diagonal with X2");
        Assert.Throws<ArgumentException>(() => EmpiricalNtk.Compute(net, x, randn(2, 5, ScalarType.Float64)), "X2 shape");
        Assert.Throws<ArgumentException>(() => EmpiricalNtk.Compute(net, x, null, new NtkOptions(BlockSize: 0)), "block size");
        Assert.Throws<ArgumentException>(() => EmpiricalNtk.VectorProduct(net, x, null, randn(2, 3, ScalarType.Float64)), "v shape");
    }
}
