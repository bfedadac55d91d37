using GpuNtk.Kernels.Autograd;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// Any module that owns parameters: its per-example Jacobian from module-local autograd. The module is re-run on one
/// example at a time and differentiated against each captured signal, so the cost is N·O backward passes through
/// this module alone (not the network); it is exact for any module whose rows do not interact.
/// </summary>
internal sealed class GenericModuleNtkRule(nn.Module module) : ILayerNtkRule
{
    public long Slices(ModuleCall call) => 1;

    public long SliceWidth(ModuleCall call) => ModelPlan.OwnParameters(module).Sum(p => p.numel());

    public Tensor Jacobian(ModuleCall call, long start, long count)
    {
        var m = (nn.Module<Tensor, Tensor>)module;
        var ps = ModelPlan.OwnParameters(module).ToArray();
        long n = call.Examples, o = call.Outputs;
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var rows = new List<Tensor>();
        for (long i = 0; i < n; i++)
        {
            var z = m.forward(call.Input.narrow(0, i, 1));
            for (long a = 0; a < o; a++)
            {
                var cot = call.Signal[i, a].unsqueeze(0);
                if (!cot.shape.SequenceEqual(z.shape))
                    throw new ArgumentException($"module '{module.GetName()}' ({module.GetType().Name}) maps one example to " +
                                                $"[{string.Join(", ", z.shape)}] but its batched output rows are [{string.Join(", ", cot.shape)}]; " +
                                                "use NtkImplementation.VectorProducts for this model");
                rows.Add(ParameterGradients.Flat([z], ps, [cot], retainGraph: a + 1 < o));
            }
        }
        return stack(rows).view(n, o, -1).MoveToOuterDisposeScope();
    }

    public bool TryAccumulate(ModuleCall c1, ModuleCall c2, NtkAccumulator acc) => false;
}
