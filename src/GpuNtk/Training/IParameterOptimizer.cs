using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GpuNtk.Training;

/// <summary>
/// An optimizer whose complete state round-trips through named tensors, so a resumed run continues exactly. The
/// learning rate is passed per step (schedules live outside the optimizer).
/// </summary>
public interface IParameterOptimizer : IDisposable
{
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>One update from the gradients in <c>p.grad</c> with step size <paramref name="learningRate"/>.</summary>
    void Step(double learningRate);

    /// <summary>The state as named tensors (absent entries mean "not created yet").</summary>
    IEnumerable<(string Name, Tensor Value)> SaveState();

    /// <summary>Restores <see cref="SaveState"/>'s tensors (copies them).</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);
}
