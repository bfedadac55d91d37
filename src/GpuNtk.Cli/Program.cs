using GpuNtk.Native;
using GpuNtk.Networks;
TorchNative.EnsureLoaded();
foreach (var s in new[] { "fcn", "cnn:size=8,channels=8", "wrn:size=8" })
{
    var n = NetworkFactory.Create(s, 1, TorchSharp.torch.ScalarType.Float64);
    var spec = (dynamic)n.Spec;
    var x = TorchSharp.torch.randn(4, n.Spec.InputSize, dtype: TorchSharp.torch.ScalarType.Float64);
    var y = n.forward(x);
    Console.WriteLine($"{n.Spec} params={n.ParameterCount} formula={spec.ParameterCount} out={string.Join("x", y.shape)} std={y.std().item<double>()}");
    foreach (var (name, p) in n.named_parameters().Take(3)) Console.WriteLine($"  {name} {string.Join("x", p.shape)}");
}
