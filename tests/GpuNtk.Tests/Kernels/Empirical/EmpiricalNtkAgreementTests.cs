using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using static GpuNtk.Tests.Kernels.Empirical.NtkTestModels;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Kernels.Empirical;

/// <summary>Every implementation equals the explicit-Jacobian reference to 1e-5 relative, in float64.</summary>
public sealed class EmpiricalNtkAgreementTests
{
    private const double Tolerance = 1e-5;

    // N1 = 5 and N2 = 3 with tiles of 2: neither is a multiple of the block, and the last tiles are short.
    [TestCase(Fcn, NtkOutput.Full)]
    [TestCase(Fcn, NtkOutput.Trace)]
    [TestCase(Cnn, NtkOutput.Full)]
    [TestCase(Cnn, NtkOutput.Trace)]
    [TestCase(Wrn, NtkOutput.Full)]
    [TestCase(Wrn, NtkOutput.Trace)]
    public void AllImplementationsMatchReference(string arch, NtkOutput output)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(arch, seed: 3, ScalarType.Float64);
        var x1 = Inputs(net, 5, seed: 11);
        var x2 = Inputs(net, 3, seed: 12);
        var symmetricRef = ReferenceNtk.Compute(net, x1, null, output);
        var crossRef = ReferenceNtk.Compute(net, x1, x2, output);
        foreach (var impl in Fast)
        {
            var options = new NtkOptions(output, impl, BlockSize: 2);
            var symmetric = EmpiricalNtk.Compute(net, x1, null, options);
            var cross = EmpiricalNtk.Compute(net, x1, x2, options);
            Assert.That(RelativeError(symmetric, symmetricRef), Is.LessThan(Tolerance), $"{impl} symmetric");
            Assert.That(RelativeError(cross, crossRef), Is.LessThan(Tolerance), $"{impl} X1 ≠ X2");
        }
        // The reference through the blocked path agrees with the plain one too.
        var blockedRef = EmpiricalNtk.Compute(net, x1, x2, new NtkOptions(output, NtkImplementation.Reference, BlockSize: 2));
        Assert.That(RelativeError(blockedRef, crossRef), Is.LessThan(1e-12));
    }

    [TestCase(Fcn)]
    [TestCase(Cnn)]
    [TestCase(Wrn)]
    public void DiagonalsMatchReference(string arch)
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create(arch, seed: 5, ScalarType.Float64);
        var x = Inputs(net, 5, seed: 13);
        var diagFullRef = ReferenceNtk.Compute(net, x, null, NtkOutput.DiagonalFull);
        var diagTraceRef = ReferenceNtk.Compute(net, x, null, NtkOutput.DiagonalTrace);
        Assert.That(diagFullRef.shape, Is.EqualTo(new long[] { 5, 3, 3 }));
        foreach (var impl in Fast)
        {
            var diagFull = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.DiagonalFull, impl, BlockSize: 2));
            var diagTrace = EmpiricalNtk.Compute(net, x, null, new NtkOptions(NtkOutput.DiagonalTrace, impl, BlockSize: 2));
            Assert.That(RelativeError(diagFull, diagFullRef), Is.LessThan(Tolerance), $"{impl} diagonal full");
            Assert.That(RelativeError(diagTrace, diagTraceRef), Is.LessThan(Tolerance), $"{impl} diagonal traced");
        }
    }

    [Test]
    public void AutoIsStructuredOnTheBuiltInNetworks()
    {
        foreach (var arch in new[] { Fcn, Cnn, Wrn })
        {
            using var scope = NewDisposeScope();
            using var net = NetworkFactory.Create(arch, seed: 1, ScalarType.Float64);
            Assert.That(EmpiricalNtk.Resolve(net, Inputs(net, 1, seed: 1)), Is.EqualTo(NtkImplementation.Structured), arch);
        }
    }

    [Test]
    public void AutoFallsBackToVectorProductsWhenOneCaptureExceedsTheBudget()
    {
        using var scope = NewDisposeScope();
        // One example's capture: O = 20 replicas × (2·2048 + 20) activations × 3 × 8 bytes ≈ 2 MB > half of 1 MiB.
        using var net = NetworkFactory.Create("fcn:depth=2,width=2048,in=4,out=20", seed: 1, ScalarType.Float64);
        var x = Inputs(net, 1, seed: 1);
        Assert.That(EmpiricalNtk.Resolve(net, x, NtkImplementation.Auto, memoryBudgetBytes: 1 << 20), Is.EqualTo(NtkImplementation.VectorProducts));
        Assert.That(EmpiricalNtk.Resolve(net, x, NtkImplementation.Auto, memoryBudgetBytes: 1L << 30), Is.EqualTo(NtkImplementation.Structured));
    }
}
