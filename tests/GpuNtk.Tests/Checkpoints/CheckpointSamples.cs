using GpuNtk.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>State dicts covering every dtype and the awkward layouts, for writer tests.</summary>
internal static class CheckpointSamples
{
    /// <summary>
    /// One tensor per dtype with non-trivial values, plus a 0-d tensor, an empty one, a non-contiguous view and a tensor
    /// stored under two names (tied weights). Values are exact in every dtype.
    /// </summary>
    public static StateDict AllKinds()
    {
        var sd = new StateDict();
        var baseValues = arange(24, dtype: ScalarType.Float64).reshape(4, 6).div(8).sub(1);
        sd.Add("float64", baseValues.clone());
        sd.Add("float32", (baseValues * 3).to_type(ScalarType.Float32));
        sd.Add("float16", (baseValues * 5).to_type(ScalarType.Float16));
        sd.Add("bfloat16", (baseValues * 7).to_type(ScalarType.BFloat16));
        sd.Add("int64", arange(-6, 6, dtype: ScalarType.Int64).reshape(3, 4) * 1000000007L);
        sd.Add("int32", arange(-6, 6, dtype: ScalarType.Int32) * 65537);
        sd.Add("int16", arange(-6, 6, dtype: ScalarType.Int16) * 1001);
        sd.Add("int8", arange(-6, 6, dtype: ScalarType.Int8) * 20);
        sd.Add("uint8", arange(0, 12, dtype: ScalarType.Byte) * 21);
        sd.Add("bool", tensor(new[] { true, false, false, true, true, false }));
        sd.Add("scalar", tensor(2.5f));
        sd.Add("empty", zeros(0, 3, ScalarType.Float32));
        sd.Add("transposed", arange(12, dtype: ScalarType.Float32).reshape(3, 4).t());
        var tied = linspace(-1, 1, 6, ScalarType.Float32).reshape(2, 3);
        sd.Add("tied.encoder", tied);
        sd.Add("tied.decoder", tied.alias());
        return sd;
    }
}
