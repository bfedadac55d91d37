using static TorchSharp.torch;

namespace GpuNtk.Data;

/// <summary>Standardisation with training statistics, computed in float64 and applied to both splits.</summary>
internal static class Standardization
{
    /// <summary>Zero means and unit deviations for <paramref name="channels"/> channels (no standardisation).</summary>
    public static (double[] Mean, double[] Std) Identity(long channels) =>
        (new double[channels], Enumerable.Repeat(1.0, (int)channels).ToArray());

    /// <summary>Per channel (dimension 1) of <c>[N, C, …]</c> inputs.</summary>
    public static (Tensor Train, Tensor Test, double[] Mean, double[] Std) PerChannel(Tensor train, Tensor test, ScalarType dtype)
    {
        var dims = Enumerable.Range(0, (int)train.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
        return Apply(train, test, dtype, dims);
    }

    /// <summary>One mean and deviation over every training value.</summary>
    public static (Tensor Train, Tensor Test, double[] Mean, double[] Std) Global(Tensor train, Tensor test, ScalarType dtype) =>
        Apply(train, test, dtype, Enumerable.Range(0, (int)train.dim()).Select(d => (long)d).ToArray());

    private static (Tensor, Tensor, double[], double[]) Apply(Tensor train, Tensor test, ScalarType dtype, long[] dims)
    {
        var x64 = train.to(ScalarType.Float64);
        var m = x64.mean(dims, keepdim: true);
        var s = x64.std(dims, keepdim: true, unbiased: false).clamp_min(1e-12);
        var standardTrain = x64.sub(m).div_(s).to(dtype);
        var standardTest = test.to(ScalarType.Float64).sub(m).div_(s).to(dtype);
        return (standardTrain, standardTest, m.cpu().data<double>().ToArray(), s.cpu().data<double>().ToArray());
    }
}
