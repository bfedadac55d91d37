using GpuNtk.Checkpoints;
using GpuNtk.Dynamics.Hierarchy;
using GpuNtk.Dynamics.Ode;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using GpuNtk.Networks.StateDicts;
using GpuNtk.Tests.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Dynamics.Hierarchy.HierarchyTestData;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics.Hierarchy;

/// <summary>Networks with several outputs: the full/traced convention of src/GpuNtk/Kernels/README.md, and the dynamics.</summary>
public sealed class MultiOutputHierarchyTests
{
    [Test]
    public void FullThirdOrderIsTheDerivativeOfTheFullNtkAlongAnOutputsGradient()
    {
        // K3[·, ·, k, ·, ·, c] = d/dε Θ_full(θ + ε ∇f_c(x_k)) at ε = 0, cross-output entries included.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=12,act=tanh,in=3,out=3", seed: 5, ScalarType.Float64);
        var train = Sphere(4, 3, seed: 1);
        var probe = cat([train, Sphere(2, 3, seed: 2)]);
        using var set = HierarchyKernels.Compute(net, probe, train, 3, new HierarchyKernelOptions(Output: NtkOutput.Full));
        Assert.That(set.K3!.shape, Is.EqualTo(new long[] { 6, 4, 4, 3, 3, 3 }));
        Assert.That(RelativeError(set.K2, EmpiricalNtk.Compute(net, probe, train, new NtkOptions(NtkOutput.Full))), Is.LessThan(1e-12));
        AssertThirdOrderMatchesFiniteDifferences(net, set.K3, probe, train, [(1, 0), (3, 2), (0, 1)]);
    }

    [Test]
    public void EachOutputsKernelsAreThoseOfTheScalarNetworkOfThatOutput()
    {
        // The diagonal [.., a, a, a] of the full kernels = the hierarchy of x ↦ f_a(x) (a module written here, so the
        // generic looped backend), and the traced kernels are their mean over a.
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=8,act=tanh,in=3,out=2", seed: 3, ScalarType.Float64);
        var train = Sphere(3, 3, seed: 4);
        var probe = cat([train, Sphere(1, 3, seed: 5)]);
        using var full = HierarchyKernels.Compute(net, probe, train, 4, new HierarchyKernelOptions(Output: NtkOutput.Full));
        using var traced = HierarchyKernels.Compute(net, probe, train, 4);
        // Not disposed: disposing a module disposes its submodules, the network itself.
        var slices = new[] { new OutputSlice(net, 0), new OutputSlice(net, 1) };
        for (int r = 2; r <= 4; r++)
        {
            Tensor? sum = null;
            for (long a = 0; a < 2; a++)
            {
                using var scalar = HierarchyKernels.Compute(slices[a], probe, train, r);
                var diagonal = full.Order(r);
                for (int axis = 0; axis < r; axis++) diagonal = diagonal.select(r, a);
                Assert.That(RelativeError(diagonal, scalar.Order(r)), Is.LessThan(1e-12), $"K{r}, output {a}");
                sum = sum is null ? scalar.Order(r).clone() : sum.add(scalar.Order(r));
            }
            Assert.That(RelativeError(traced.Order(r), sum!.div(2)), Is.LessThan(1e-12), $"traced K{r}");
        }
        GC.KeepAlive(slices);
    }

    [Test]
    public void PyTorchCheckpointReluNetworkHasFullThirdOrderOfItsNtk()
    {
        // A PyTorch nn.Sequential (Linear-ReLU-Linear-ReLU-Linear, 3 outputs) loaded as a param=standard FCN; ReLU's
        // φ'' = 0 almost everywhere, so K3 holds only cross-layer terms — still the derivative of Θ (no unit crosses 0).
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=2,width=16,in=6,out=3,act=relu,param=standard", seed: 0, ScalarType.Float64);
        StateDictLoader.LoadInto(net, CheckpointFixtures.Path("mlp_state_dict.pt"), convertDType: true);
        using var io = CheckpointFiles.LoadStateDict(CheckpointFixtures.Path("mlp_io.pt"));
        var x = io["x"].to_type(ScalarType.Float64);
        Assert.That(net.forward(x).sub(io["y64"]).abs().max().item<double>(), Is.LessThan(1e-12), "the checkpoint's weights are loaded");
        var train = x.narrow(0, 0, 3);
        using var set = HierarchyKernels.Compute(net, train, train, 3, new HierarchyKernelOptions(Output: NtkOutput.Full));
        Assert.That(set.K3!.abs().max().item<double>(), Is.GreaterThan(1e-3), "K3 of a ReLU network does not vanish");
        AssertThirdOrderMatchesFiniteDifferences(net, set.K3, train, train, [(0, 2), (2, 1)]);
    }

    [Test]
    public void TruncationAtLevelPIsAccurateToOrderTToThePWithSeveralOutputs()
    {
        // As the scalar test: halving t divides the f error by 2^p — here with O = 2 coupled outputs, the loss
        // 1/(2·n·O)·‖f − Y‖² and the full kernels over (example, output) pairs.
        using var scope = NewDisposeScope();
        var tight = new OdeOptions(1e-12, 1e-14);
        using var net = NetworkFactory.Create("fcn:depth=2,width=12,act=tanh,in=3,out=2", seed: 1, ScalarType.Float64);
        var train = Sphere(5, 3, seed: 5);
        var probe = cat([train, Sphere(2, 3, seed: 6)]);
        var y = Sphere(5, 2, seed: 7);
        var f0 = net.forward(probe).detach();
        using var set = HierarchyKernels.Compute(net, probe, train, 4, new HierarchyKernelOptions(Output: NtkOutput.Full));
        var hierarchies = new[] { 2, 3, 4 }.Select(p => new TruncatedHierarchy(p, f0, set, y, learningRate: 2, ode: tight)).ToArray();
        using var flow = new NetworkGradientFlow(net, train, y, learningRate: 2, ode: tight);
        var fErr = new double[3, 2];
        double[] times = [0.1, 0.2];
        for (int k = 0; k < 2; k++)
        {
            flow.AdvanceTo(times[k]);
            var f = net.forward(probe).detach();
            for (int i = 0; i < 3; i++)
            {
                hierarchies[i].AdvanceTo(times[k]);
                Assert.That(hierarchies[i].Outputs.shape, Is.EqualTo(new long[] { 7, 2 }));
                fErr[i, k] = hierarchies[i].Outputs.sub(f).norm().item<double>();
            }
        }
        for (int i = 0; i < 3; i++)
        {
            int p = i + 2;
            Assert.That(fErr[i, 1] / fErr[i, 0], Is.InRange(0.8 * Math.Pow(2, p), 1.25 * Math.Pow(2, p)), $"f error ratio, p = {p}");
            if (p > 2) Assert.That(fErr[i, 1], Is.LessThan(0.1 * fErr[i - 1, 1]), $"p = {p} is better than p = {p - 1}");
        }
        Assert.That(hierarchies[1].Ntk.shape, Is.EqualTo(new long[] { 7, 5, 2, 2 }));
        foreach (var h in hierarchies) h.Dispose();
    }

    [Test]
    public void DynamicsOfSeveralOutputsRejectTracedKernels()
    {
        using var scope = NewDisposeScope();
        using var net = NetworkFactory.Create("fcn:depth=1,width=8,act=tanh,in=3,out=2", seed: 1, ScalarType.Float64);
        var x = Sphere(3, 3, seed: 1);
        using var traced = HierarchyKernels.Compute(net, x, x, 3);
        Assert.That(() => new TruncatedHierarchy(3, net.forward(x).detach(), traced, Sphere(3, 2, seed: 2)),
                    Throws.ArgumentException.With.Message.Contains("NtkOutput.Full"));
    }

    /// <summary>Central differences of the full NTK along ∇f_c(x_k) against K3[:, :, k, :, :, c].</summary>
    private static void AssertThirdOrderMatchesFiniteDifferences(Network net, Tensor k3, Tensor probe, Tensor train, (long K, long C)[] directions)
    {
        var layout = ParameterVector.Of(net);
        var theta = layout.Flatten();
        var rows = PerExampleDerivatives.For(net);
        var options = new NtkOptions(NtkOutput.Full);
        foreach (var (k, c) in directions)
        {
            var g = rows.Gradients(train.narrow(0, k, 1), tensor(new[] { c })).reshape(-1);
            double h = 1e-4 / g.norm().item<double>();
            layout.Assign(theta + h * g);
            var plus = EmpiricalNtk.Compute(net, probe, train, options);
            layout.Assign(theta - h * g);
            var minus = EmpiricalNtk.Compute(net, probe, train, options);
            layout.Assign(theta);
            Assert.That(RelativeError(k3.select(2, k).select(4, c), plus.sub(minus).div(2 * h)), Is.LessThan(1e-6), $"direction (x_{k}, output {c})");
        }
    }

    /// <summary>x ↦ f_a(x) of a multi-output model, as a module of its own (not a GpuNtk Network).</summary>
    private sealed class OutputSlice : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly long _output;

        public OutputSlice(nn.Module<Tensor, Tensor> model, long output) : base(nameof(OutputSlice))
        {
            inner = model;
            _output = output;
            register_module("inner", model);
        }

        public override Tensor forward(Tensor x) => inner.forward(x).narrow(1, _output, 1);
    }
}
