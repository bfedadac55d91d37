using GpuNtk.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Linearization;

/// <summary>
/// The Taylor expansion of a network around its parameters θ0 (Lee et al. 2019, "Wide neural networks of any depth
/// evolve as linear models under gradient descent"):
/// <code>f_lin(x; θ) = f(x; θ0) + J(x; θ0)·(θ − θ0)            (TaylorOrder.First)
/// f_quad(x; θ) = f_lin(x; θ) + ½·((θ−θ0)ᵀ H_a(x; θ0) (θ−θ0))_a  (TaylorOrder.Second)</code>
/// computed by Jacobian- and Hessian-vector products (<see cref="JacobianProducts"/>) without forming J or H.
/// <para>
/// Its trainable parameters are the deltas δ = θ − θ0, one per trainable parameter of the network, with the network's
/// names and shapes (<c>layers.1.weight</c>, …) and initialised to zero, so any TorchSharp optimizer or trainer trains
/// it exactly like the network: the forward pass returns f_lin, and backward gives ∂L/∂δ (= ∂L/∂θ of the linearized
/// model). θ0 lives in a private frozen copy of the network that no optimizer sees and that never accumulates
/// gradients. The inputs x are constants (no gradient flows to them). Works in any dtype and on any device (<c>.to()</c>
/// moves θ0 along with the deltas).
/// </para>
/// </summary>
public sealed class LinearizedModel : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _base;
    private readonly string[] _names;
    // Cached by name; re-read after .to(), which replaces parameter objects.
    private Parameter[] _theta0 = [];
    private Parameter[] _deltas = [];

    /// <summary>
    /// Linearizes <paramref name="atTheta0"/> around its current parameters and takes ownership of it: it becomes the
    /// frozen θ0 and must not be trained or disposed by anyone else. Use <see cref="Create(Network, TaylorOrder)"/> to
    /// linearize a network you keep training.
    /// Parameters that do not require gradients stay constant (they get no delta).
    /// </summary>
    public LinearizedModel(nn.Module<Tensor, Tensor> atTheta0, TaylorOrder order = TaylorOrder.First) : base("linearized")
    {
        ArgumentNullException.ThrowIfNull(atTheta0);
        if (order is not (TaylorOrder.First or TaylorOrder.Second))
            throw new ArgumentOutOfRangeException(nameof(order), order, "use TaylorOrder.First or TaylorOrder.Second");
        _base = atTheta0;
        Order = order;
        var trainable = atTheta0.named_parameters().Where(np => np.parameter.requires_grad).ToArray();
        if (trainable.Length == 0)
            throw new ArgumentException("the module has no parameters that require gradients: nothing to linearize", nameof(atTheta0));
        _names = trainable.Select(np => np.name).ToArray();

        var tree = new DeltaTree("deltas", atTheta0);
        foreach (var (n, p) in tree.named_parameters(recurse: false)) register_parameter(n, p);
        foreach (var (n, child) in tree.named_children()) register_module(n, child);
        ResolveParameters();
    }

    private void ResolveParameters()
    {
        var theta0 = _base.named_parameters().ToDictionary(np => np.name, np => np.parameter);
        var deltas = named_parameters().ToDictionary(np => np.name, np => np.parameter);
        _theta0 = _names.Select(n => theta0[n]).ToArray();
        _deltas = _names.Select(n => deltas[n]).ToArray();
    }

    /// <summary>
    /// Linearizes <paramref name="network"/> around its current parameters. θ0 is copied into a private network of the
    /// same spec, dtype and device, so <paramref name="network"/> itself can go on training (the trainer runs both side by side).
    /// </summary>
    public static LinearizedModel Create(Network network, TaylorOrder order = TaylorOrder.First)
    {
        ArgumentNullException.ThrowIfNull(network);
        var copy = NetworkFactory.Create(network.Spec, 0, network.DType, network.Device);
        var source = network.named_parameters().ToDictionary(np => np.name, np => np.parameter);
        using (no_grad())
        {
            foreach (var (name, p) in copy.named_parameters())
            {
                var s = source[name];
                p.copy_(s);
                p.requires_grad_(s.requires_grad);
            }
        }
        return new LinearizedModel(copy, order);
    }

    public TaylorOrder Order { get; }

    /// <summary>The module at θ0 (owned; read it, e.g. for Θ0 = EmpiricalNtk.Compute(BaseModule, x), but do not train it).</summary>
    public nn.Module<Tensor, Tensor> BaseModule => _base;

    /// <summary>Names of the linearized parameters, in the order of <see cref="Deltas"/> and <see cref="Theta0"/>.</summary>
    public IReadOnlyList<string> ParameterNames => _names;

    /// <summary>The trainable deltas θ − θ0.</summary>
    public IReadOnlyList<Parameter> Deltas => _deltas;

    /// <summary>The frozen θ0 (read only).</summary>
    public IReadOnlyList<Parameter> Theta0 => _theta0;

    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var args = new object[_deltas.Length + 1];
        args[0] = new TaylorInputs(_base, _theta0, x, Order);
        for (int k = 0; k < _deltas.Length; k++) args[k + 1] = _deltas[k];
        return TaylorFunction.apply(args);
    }

    /// <summary>f(x; θ0), detached.</summary>
    public Tensor InitialOutput(Tensor x)
    {
        using var noGrad = no_grad();
        return _base.forward(x);
    }

    /// <summary>J(x; θ0)·v for tangents shaped like the parameters (in <see cref="ParameterNames"/> order), detached.</summary>
    public Tensor Jvp(Tensor x, IReadOnlyList<Tensor> tangents)
    {
        var (output, jvp) = JacobianProducts.Jvp(_base, _theta0, x, tangents);
        output.Dispose();
        return jvp;
    }

    /// <summary>J(x; θ0)ᵀ·w, one tensor per parameter, detached.</summary>
    public Tensor[] Vjp(Tensor x, Tensor cotangent) => JacobianProducts.Vjp(_base, _theta0, x, cotangent);

    /// <summary>‖θ − θ0‖₂ over all linearized parameters, as a 0-d tensor on the device (no host read).</summary>
    public Tensor DeltaNorm()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var sq = _deltas.Select(d => d.square().sum()).Aggregate((a, b) => a.add_(b));
        return sq.sqrt().MoveToOuterDisposeScope();
    }

    /// <summary>θ = θ0 + δ by name (new tensors, detached), e.g. to load into a network and compare.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> CurrentParameters()
    {
        using var noGrad = no_grad();
        return _names.Select((n, k) => (n, _theta0[k].add(_deltas[k]))).ToList();
    }

    /// <summary>Sets δ = 0, i.e. back to θ = θ0.</summary>
    public void ResetDeltas()
    {
        using var noGrad = no_grad();
        foreach (var d in _deltas) d.zero_();
    }

    // θ0 is not a registered submodule (optimizers must not see it), so moves are forwarded by hand.
    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking)
    {
        _base.to(device, dtype, non_blocking);
        var result = base._to(device, dtype, non_blocking);
        ResolveParameters();
        return result;
    }

    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool non_blocking)
    {
        _base.to(deviceType, deviceIndex, non_blocking);
        var result = base._to(deviceType, deviceIndex, non_blocking);
        ResolveParameters();
        return result;
    }

    protected override nn.Module _to(ScalarType dtype, bool non_blocking)
    {
        _base.to(dtype, non_blocking);
        var result = base._to(dtype, non_blocking);
        ResolveParameters();
        return result;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _base.Dispose();
        base.Dispose(disposing);
    }
}
