using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Linearization;

/// <summary>
/// A parameter container mirroring a module's tree: one zero parameter per trainable parameter of the source, under
/// the same dotted name, so that <c>named_parameters()</c> and <c>state_dict()</c> of the linearized model read like the
/// network's. Subtrees without trainable parameters are left out (names are unaffected).
/// </summary>
internal sealed class DeltaTree : nn.Module
{
    public DeltaTree(string name, nn.Module source) : base(name)
    {
        foreach (var (n, p) in source.named_parameters(recurse: false))
        {
            if (!p.requires_grad) continue;
            using var noGrad = no_grad();
            register_parameter(n, new Parameter(zeros_like(p), requires_grad: true));
            HasParameters = true;
        }
        foreach (var (n, child) in source.named_children())
        {
            var sub = new DeltaTree(n, child);
            if (!sub.HasParameters) continue;
            register_module(n, sub);
            HasParameters = true;
        }
    }

    public bool HasParameters { get; }
}
