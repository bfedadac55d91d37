using GpuNtk.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// A fully connected <see cref="Network"/> (flatten, dense, activation layers) compiled into steps that functional
/// forwards can replay with their own parameters — the basis of the batched derivative backends for FCNs.
/// </summary>
internal sealed class DenseNetworkPlan
{
    internal abstract record Step;
    internal sealed record FlattenStep : Step;
    internal sealed record ActivationStep(Activation Kind) : Step;
    /// <summary>A dense layer; <see cref="Weight"/>/<see cref="Bias"/> index θ's entries, null when frozen.</summary>
    internal sealed record DenseStep(DenseLayer Layer, int? Weight, int? Bias) : Step
    {
        public bool Trainable => Weight is not null || Bias is not null;
    }

    private DenseNetworkPlan(Network network, ParameterVector parameters, IReadOnlyList<Step> steps)
    {
        Network = network;
        Parameters = parameters;
        Steps = steps;
    }

    public Network Network { get; }
    public ParameterVector Parameters { get; }
    public IReadOnlyList<Step> Steps { get; }
    public IEnumerable<DenseStep> DenseSteps => Steps.OfType<DenseStep>();

    /// <summary>The plan for <paramref name="model"/>, or null (with the reason) when a layer has no functional rule.</summary>
    public static DenseNetworkPlan? TryCreate(nn.Module<Tensor, Tensor> model, out string reason)
    {
        if (model is not Network network)
        {
            reason = $"{model.GetType().Name} is not a GpuNtk Network";
            return null;
        }
        var parameters = ParameterVector.Of(network);
        int? Find(Tensor p)
        {
            for (int i = 0; i < parameters.Entries.Count; i++)
                if (parameters.Entries[i].Parameter.Handle == p.Handle) return i;
            return null;
        }
        var steps = new List<Step>();
        var used = new HashSet<int>();
        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case FlattenLayer:
                    steps.Add(new FlattenStep());
                    break;
                case ActivationLayer act:
                    steps.Add(new ActivationStep(act.Kind));
                    break;
                case DenseLayer dense:
                    var w = Find(dense.weight);
                    var b = Find(dense.bias);
                    if (w is { } wi) used.Add(wi);
                    if (b is { } bi) used.Add(bi);
                    steps.Add(new DenseStep(dense, w, b));
                    break;
                default:
                    reason = $"layer {layer.GetType().Name} has no batched rule (supported: flatten, dense, activation)";
                    return null;
            }
        }
        if (used.Count != parameters.Entries.Count)
        {
            reason = "some trainable parameters do not belong to a dense layer";
            return null;
        }
        reason = "";
        return new DenseNetworkPlan(network, parameters, steps);
    }

    /// <summary>
    /// Replays the network on <paramref name="x"/> <c>[R, …]</c>: flatten and activation steps as the network does them,
    /// every dense step by <paramref name="dense"/>(step, its input) — where each backend puts its own parameters or
    /// perturbations. Returns output <c>output[r]</c> of row r, <c>[R]</c> (<see cref="SelectOutput"/>).
    /// </summary>
    public Tensor Replay(Tensor x, Tensor? output, Func<DenseStep, Tensor, Tensor> dense)
    {
        long r = x.shape[0];
        var a = x;
        foreach (var step in Steps)
        {
            a = step switch
            {
                FlattenStep => a.reshape(r, -1),
                ActivationStep act => Activate(act.Kind, a),
                DenseStep d => dense(d, a),
                _ => throw new InvalidOperationException($"unknown plan step {step}"),
            };
        }
        return SelectOutput(a, output);
    }

    /// <summary>The activation, spelled out so that derivatives of every order are differentiable again.</summary>
    public static Tensor Activate(Activation kind, Tensor x) => kind switch
    {
        Activation.Gelu => x.mul(0.5).mul(x.mul(1 / Math.Sqrt(2)).erf().add(1)),
        _ => ActivationLayer.Apply(kind, x),
    };

    /// <summary>Row r's output <c>output[r]</c> of <c>[R, O]</c> as <c>[R]</c> (<see cref="OutputSelection"/>).</summary>
    public static Tensor SelectOutput(Tensor a, Tensor? output) => OutputSelection.Select(a, output);
}
