using GpuNtk.Dynamics.Linearization;
using GpuNtk.Kernels.Empirical;
using GpuNtk.Networks;
using NUnit.Framework;
using TorchSharp;
using static GpuNtk.Tests.Dynamics.DynamicsTestHelpers;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Dynamics;

public sealed class LinearizedModelTests
{
    private const string Fcn = "fcn:depth=2,width=24,act=erf,in=5,out=3";

    private static Tensor[] RandomTangents(IEnumerable<Tensor> like, ulong seed)
    {
        using var g = new Generator(seed);
        return like.Select(p => randn(p.shape, p.dtype, generator: g)).ToArray();
    }

    /// <summary>f(θ0 + ε·v) by loading shifted parameters into a fresh copy.</summary>
    private static Tensor OutputAt(string spec, Network net, IReadOnlyList<Tensor> v, double eps, Tensor x)
    {
        using var shifted = NetworkFactory.Create(spec, 0, ScalarType.Float64);
        using var noGrad = no_grad();
        var src = net.parameters().ToArray();
        var dst = shifted.parameters().ToArray();
        for (int k = 0; k < dst.Length; k++) dst[k].copy_(src[k].add(v[k], alpha: eps));
        return shifted.forward(x);
    }

    [TestCase(Fcn)]
    [TestCase("cnn:depth=1,channels=3,act=tanh,in=2,size=4,out=2")]
    public void JvpMatchesCentralFiniteDifferences(string spec)
    {
        using var net = NetworkFactory.Create(spec, 3, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var x = Inputs(4, net.Spec.InputSize, 5);
        var v = RandomTangents(net.parameters(), 7);
        var jvp = lin.Jvp(x, v);
        const double eps = 1e-5;
        var fd = OutputAt(spec, net, v, eps, x).sub(OutputAt(spec, net, v, -eps, x)).div(2 * eps);
        // Central differences: error O(ε²·f''') + O(rounding/ε) ≈ 1e-10 relative.
        Assert.That(RelativeError(jvp, fd), Is.LessThan(1e-8));
        Assert.That(jvp.norm().item<double>(), Is.GreaterThan(1e-3), "the tangent must actually move the outputs");
    }

    [Test]
    public void ForwardIsInitialOutputsPlusJvpAndBackwardIsTheTransposedJacobian()
    {
        using var net = NetworkFactory.Create(Fcn, 1, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var x = Inputs(6, 5, 2);
        Assert.That(MaxAbs(lin.forward(x), net.forward(x)), Is.LessThan(1e-14), "δ = 0 gives f(θ0)");

        var v = RandomTangents(lin.Deltas, 3);
        using (no_grad()) for (int k = 0; k < v.Length; k++) lin.Deltas[k].copy_(v[k]);
        var jacobian = ReferenceNtk.Jacobian(net, x).reshape(6 * 3, -1); // [N·O, P]
        var flatDelta = cat(v.Select(t => t.reshape(-1)).ToArray());
        var expected = net.forward(x).detach().reshape(-1).add(jacobian.matmul(flatDelta));
        var f = lin.forward(x);
        Assert.That(MaxAbs(f.reshape(-1), expected), Is.LessThan(1e-12));

        var w = Targets(6, 3, 4);
        var grads = autograd.grad([f], lin.Deltas.Cast<Tensor>().ToList(), [w]);
        var flatGrad = cat(grads.Select(t => t.reshape(-1)).ToArray());
        Assert.That(MaxAbs(flatGrad, jacobian.t().matmul(w.reshape(-1))), Is.LessThan(1e-12));
        Assert.That(lin.Theta0.All(p => p.grad is null), "θ0 must never accumulate gradients");
    }

    [Test]
    public void ParametersAreDeltasWithTheNetworksNamesAndShapes()
    {
        using var net = NetworkFactory.Create(Fcn, 1, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var netParams = net.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))).ToArray();
        var linParams = lin.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))).ToArray();
        Assert.That(linParams, Is.EqualTo(netParams));
        Assert.That(lin.parameters().All(p => p.abs().max().item<double>() == 0), "deltas start at zero");
        Assert.That(lin.state_dict().Keys, Is.EquivalentTo(net.state_dict().Keys));

        // θ0 is a copy: training the network afterwards does not move the linearization.
        var x = Inputs(3, 5, 1);
        var before = lin.forward(x).detach().clone();
        using (no_grad()) foreach (var p in net.parameters()) p.add_(1.0);
        Assert.That(MaxAbs(lin.forward(x), before), Is.EqualTo(0));
    }

    [Test]
    public void OptimizerTrainsTheDeltasAndTheNtkStaysTheta0()
    {
        using var net = NetworkFactory.Create(Fcn, 2, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var x = Inputs(5, 5, 3);
        var y = Targets(5, 3, 4);
        var theta0 = EmpiricalNtk.Compute(net, x);
        var (outputs, _) = Train(lin, x, y, x, 0.5, 20);
        Assert.That(MseLoss(outputs[20], y).item<double>(), Is.LessThan(0.5 * MseLoss(outputs[0], y).item<double>()));
        Assert.That(lin.DeltaNorm().item<double>(), Is.GreaterThan(1e-3));
        // A linear model's tangent kernel is constant: Θ of the trained linearization is still Θ0.
        var thetaLin = EmpiricalNtk.Compute(lin, x);
        Assert.That(RelativeError(thetaLin, theta0), Is.LessThan(1e-12));
        Assert.That(lin.Theta0.All(p => p.grad is null));
    }

    [Test]
    public void SecondOrderModelIsExactForANetworkQuadraticInItsParameters()
    {
        // One hidden linear layer: f = W2·W1·x + … is exactly quadratic in θ, so the second-order Taylor model is the network.
        const string spec = "fcn:depth=1,width=7,act=identity,in=4,out=2";
        using var net = NetworkFactory.Create(spec, 1, ScalarType.Float64);
        using var first = LinearizedModel.Create(net);
        using var second = LinearizedModel.Create(net, TaylorOrder.Second);
        var x = Inputs(5, 4, 2);
        var v = RandomTangents(net.parameters(), 9);
        using (no_grad())
            for (int k = 0; k < v.Length; k++) { first.Deltas[k].copy_(v[k]); second.Deltas[k].copy_(v[k]); }
        var exact = OutputAt(spec, net, v, 1.0, x);
        Assert.That(RelativeError(second.forward(x), exact), Is.LessThan(1e-12));
        Assert.That(RelativeError(first.forward(x), exact), Is.GreaterThan(1e-2), "the first-order model must miss the curvature");
    }

    [Test]
    public void SecondOrderModelMatchesFiniteDifferencesAndItsGradientIsExact()
    {
        using var net = NetworkFactory.Create(Fcn, 4, ScalarType.Float64);
        using var quad = LinearizedModel.Create(net, TaylorOrder.Second);
        var x = Inputs(4, 5, 6);
        var v = RandomTangents(net.parameters(), 8);
        const double eps = 1e-3;
        // (f(θ0+εv) + f(θ0−εv) − 2f(θ0))/ε² = vᵀHv + O(ε²).
        var curvatureFd = OutputAt(Fcn, net, v, eps, x).add(OutputAt(Fcn, net, v, -eps, x)).sub(net.forward(x).detach().mul(2)).div(eps * eps);
        var curvature = JacobianProducts.SecondDirectional(net, net.parameters().ToList(), x, v);
        Assert.That(RelativeError(curvature, curvatureFd), Is.LessThan(1e-5));

        // The gradient of ⟨w, f_quad(δ)⟩ against a central difference of the model itself along a direction u.
        using (no_grad()) for (int k = 0; k < v.Length; k++) quad.Deltas[k].copy_(v[k].mul(0.3));
        var w = Targets(4, 3, 10);
        var u = RandomTangents(quad.Deltas, 11);
        var grads = autograd.grad([quad.forward(x)], quad.Deltas.Cast<Tensor>().ToList(), [w]);
        double analytic = grads.Zip(u).Sum(p => p.First.mul(p.Second).sum().item<double>());
        double Objective(double s)
        {
            using var noGrad = no_grad();
            for (int k = 0; k < u.Length; k++) quad.Deltas[k].add_(u[k], alpha: s);
            double value = quad.forward(x).mul(w).sum().item<double>();
            for (int k = 0; k < u.Length; k++) quad.Deltas[k].add_(u[k], alpha: -s);
            return value;
        }
        // f_quad is exactly quadratic in δ, so the central difference is exact up to rounding.
        double fd = (Objective(1e-3) - Objective(-1e-3)) / 2e-3;
        Assert.That(Math.Abs(analytic - fd), Is.LessThan(1e-7 * Math.Max(1, Math.Abs(fd))));
    }

    [Test]
    public void MovesWithToAndComputesInFloat32()
    {
        using var net = NetworkFactory.Create(Fcn, 1, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        lin.to(ScalarType.Float32);
        Assert.That(lin.Deltas.All(p => p.dtype == ScalarType.Float32) && lin.Theta0.All(p => p.dtype == ScalarType.Float32));
        var x = Inputs(3, 5, 1);
        var f = lin.forward(x.to(ScalarType.Float32));
        Assert.That(f.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(MaxAbs(f.to(ScalarType.Float64), net.forward(x)), Is.LessThan(1e-5));
    }

    [Test]
    public void RejectsTangentsOfTheWrongShape()
    {
        using var net = NetworkFactory.Create(Fcn, 1, ScalarType.Float64);
        using var lin = LinearizedModel.Create(net);
        var x = Inputs(2, 5, 1);
        var bad = lin.Deltas.Select(p => zeros(3)).ToArray();
        var e = Assert.Throws<ArgumentException>(() => lin.Jvp(x, bad));
        Assert.That(e!.Message, Does.Contain("shape"));
    }
}
