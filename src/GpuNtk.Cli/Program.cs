using GpuNtk.Native;
TorchNative.EnsureLoaded();
var t = TorchSharp.torch.ones(3, 3);
Console.WriteLine(t.sum().item<float>());
