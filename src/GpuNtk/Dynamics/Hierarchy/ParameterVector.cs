using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Hierarchy;

/// <summary>
/// The trainable parameters of a module seen as one flat vector θ ∈ ℝ^P: every parameter with
/// <c>requires_grad</c>, in <c>named_parameters()</c> order, each flattened row-major. Frozen parameters are not part
/// of θ (they are constants of f). All per-example derivative matrices of this folder use this layout.
/// </summary>
public sealed class ParameterVector
{
    private ParameterVector(IReadOnlyList<Entry> entries)
    {
        Entries = entries;
        Count = entries.Sum(e => e.Count);
    }

    /// <summary>One parameter's place in θ.</summary>
    public sealed record Entry(string Name, Parameter Parameter, long Offset, long Count, long[] Shape);

    public IReadOnlyList<Entry> Entries { get; }

    /// <summary>P, the length of θ.</summary>
    public long Count { get; }

    public static ParameterVector Of(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var entries = new List<Entry>();
        long offset = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            entries.Add(new Entry(name, p, offset, p.numel(), p.shape));
            offset += p.numel();
        }
        if (entries.Count == 0) throw new ArgumentException("the model has no trainable parameters (none requires grad)", nameof(model));
        return new ParameterVector(entries);
    }

    /// <summary>A detached copy of θ, <c>[P]</c>, on the parameters' device and dtype.</summary>
    public Tensor Flatten()
    {
        using var scope = NewDisposeScope();
        return cat(Entries.Select(e => e.Parameter.detach().reshape(-1)).ToArray()).MoveToOuterDisposeScope();
    }

    /// <summary>Copies <paramref name="theta"/> (<c>[P]</c>) into the parameters, without recording gradients.</summary>
    public void Assign(Tensor theta)
    {
        ArgumentNullException.ThrowIfNull(theta);
        if (theta.dim() != 1 || theta.shape[0] != Count)
            throw new ArgumentException($"θ has shape [{string.Join(", ", theta.shape)}]; expected [{Count}]", nameof(theta));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var e in Entries) e.Parameter.copy_(theta.narrow(0, e.Offset, e.Count).view(e.Shape));
    }

    /// <summary>Views of the rows of <paramref name="rows"/> (<c>[R, P]</c>) as per-parameter tensors <c>[R, …shape]</c>.</summary>
    public Tensor[] Split(Tensor rows) =>
        Entries.Select(e => rows.narrow(1, e.Offset, e.Count).view([rows.shape[0], .. e.Shape])).ToArray();

    /// <summary>Concatenates per-parameter row tensors <c>[R, …shape]</c> into <c>[R, P]</c>.</summary>
    public static Tensor Concatenate(IReadOnlyList<Tensor> parts, long rows) =>
        cat(parts.Select(t => t.reshape(rows, -1)).ToArray(), 1);
}
