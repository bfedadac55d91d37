using GpuNtk.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

public sealed class LossTests
{
    [Test]
    public void MseIsHalfTheMeanSquareOverExamplesAndOutputs()
    {
        var f = tensor(new double[,] { { 1, 2, 3 }, { 0, -1, 4 } });
        var y = tensor(new double[,] { { 0, 2, 1 }, { 1, 1, 1 } });
        // ‖f − y‖² = 1 + 0 + 4 + 1 + 4 + 9 = 19; N·O = 6.
        double loss = Losses.Compute(LossKind.Mse, f, y, zeros(2, ScalarType.Int64)).item<double>();
        Assert.That(loss, Is.EqualTo(19.0 / (2 * 6)).Within(1e-15));
    }

    [Test]
    public void CrossEntropyIsTheMeanNegativeLogSoftmax()
    {
        var f = tensor(new double[,] { { 1, 2, 3 }, { 0, -1, 4 } });
        var labels = tensor(new long[] { 2, 0 });
        double expected = 0;
        var rows = new[] { new double[] { 1, 2, 3 }, new double[] { 0, -1, 4 } };
        var lab = new[] { 2, 0 };
        for (int i = 0; i < 2; i++)
            expected += -(rows[i][lab[i]] - Math.Log(rows[i].Sum(Math.Exp)));
        expected /= 2;
        Assert.That(Losses.Compute(LossKind.CrossEntropy, f, zeros(2, 3, ScalarType.Float64), labels).item<double>(), Is.EqualTo(expected).Within(1e-14));
    }

    [Test]
    public void SingleOutputCrossEntropyIsTheLogisticLoss()
    {
        var f = tensor(new double[,] { { 0.5 }, { -2 } });
        var labels = tensor(new long[] { 1, 1 });
        double expected = (Math.Log(1 + Math.Exp(-0.5)) + Math.Log(1 + Math.Exp(2))) / 2;
        Assert.That(Losses.Compute(LossKind.CrossEntropy, f, zeros(2, 1, ScalarType.Float64), labels).item<double>(), Is.EqualTo(expected).Within(1e-14));
        Assert.That(Losses.Accuracy(f, labels).item<double>(), Is.EqualTo(0.5));
    }

    [Test]
    public void AccuracyIsTheArgmaxHitRate()
    {
        var f = tensor(new double[,] { { 1, 2, 3 }, { 5, -1, 4 }, { 0, 9, 1 } });
        Assert.That(Losses.Accuracy(f, tensor(new long[] { 2, 0, 0 })).item<double>(), Is.EqualTo(2.0 / 3).Within(1e-15));
    }
}
