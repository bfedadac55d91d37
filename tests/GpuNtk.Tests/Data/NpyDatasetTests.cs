using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

/// <summary><c>.npy</c> pairs as a data set: classification, regression, hold-out, shapes and bad files.</summary>
public sealed class NpyDatasetTests
{
    [Test]
    public void IntegerLabelsMakeAClassificationSetWithAHeldOutTestSplit()
    {
        using var dir = new TempDirectory();
        using var x = arange(50 * 6, ScalarType.Float64).reshape(50, 2, 3);
        using var y = arange(50, ScalarType.Int64).remainder(3);
        NpyFile.Write(dir["X.npy"], x);
        NpyFile.Write(dir["y.npy"], y.to(ScalarType.Int32));
        var options = new DataOptions(DataSource.Npy, Npy: new NpyDataFiles(dir["X.npy"], dir["y.npy"]), TestSize: 10, Standardize: false, Flatten: false, Seed: 3);
        using var data = DatasetLoader.Load(options, ScalarType.Float64, CPU);
        Assert.That(data.Train.Classes, Is.EqualTo(3));
        Assert.That(data.Train.Inputs.shape, Is.EqualTo(new long[] { 40, 2, 3 }));
        Assert.That(data.Test.Inputs.shape, Is.EqualTo(new long[] { 10, 2, 3 }));
        Assert.That(data.Train.Targets.shape, Is.EqualTo(new long[] { 40, 3 }));
        // Every example is where its label says: row r holds 6r…6r+5 and label r mod 3; the splits are disjoint and cover all.
        using var all = cat([data.Train.Inputs, data.Test.Inputs]);
        using var allLabels = cat([data.Train.Labels, data.Test.Labels]);
        using var rows = all[.., 0, 0].div(6).to(ScalarType.Int64);
        Assert.That(rows.remainder(3).eq(allLabels).all().item<bool>(), Is.True);
        Assert.That(rows.sort().Values.eq(arange(50, ScalarType.Int64)).all().item<bool>(), Is.True);
        using var again = DatasetLoader.Load(options, ScalarType.Float64, CPU);
        Assert.That(again.Test.Inputs.eq(data.Test.Inputs).all().item<bool>(), Is.True, "the hold-out is seeded");
    }

    [Test]
    public void FloatTargetsMakeARegressionSetAndInputsAreStandardised()
    {
        using var dir = new TempDirectory();
        using var x = randn(30, 4, ScalarType.Float64, generator: new Generator(1)).mul(3).add(2);
        using var y = randn(30, 2, ScalarType.Float32, generator: new Generator(2));
        using var tx = randn(7, 4, ScalarType.Float64, generator: new Generator(3));
        using var ty = randn(7, ScalarType.Float32, generator: new Generator(4));
        NpyFile.Write(dir["X.npy"], x);
        NpyFile.Write(dir["y.npy"], y);
        NpyFile.Write(dir["tx.npy"], tx);
        NpyFile.Write(dir["ty1.npy"], ty);
        NpyFile.Write(dir["ty.npy"], ty.unsqueeze(1).expand(7, 2).contiguous());
        var options = new DataOptions(DataSource.Npy, Npy: new NpyDataFiles(dir["X.npy"], dir["y.npy"], dir["tx.npy"], dir["ty.npy"]));
        using var data = DatasetLoader.Load(options, ScalarType.Float64, CPU);
        Assert.That(data.Train.IsRegression, Is.True);
        Assert.That(data.Train.Outputs, Is.EqualTo(2));
        Assert.That(data.Test.Count, Is.EqualTo(7));
        Assert.That(data.Train.Inputs.mean().item<double>(), Is.EqualTo(0).Within(1e-12));
        Assert.That(data.Train.Inputs.std(unbiased: false).item<double>(), Is.EqualTo(1).Within(1e-12));
        using var expectedTest = (tx - x.mean()) / x.std(unbiased: false);
        Assert.That((data.Test.Inputs - expectedTest).abs().max().item<double>(), Is.LessThan(1e-12), "test standardised with training statistics");
        Assert.That(data.Describe(), Does.Contain("regression, 2 target(s)"));
        var e = Assert.Throws<ArgumentException>(() => DatasetLoader.Load(options, 3, ScalarType.Float64, CPU));
        Assert.That(e!.Message, Does.Contain("2 target(s)").And.Contain("out=2"));
        var mismatched = options with { Npy = options.Npy! with { TestLabels = dir["ty1.npy"] } };
        Assert.That(() => DatasetLoader.Load(mismatched, ScalarType.Float64, CPU),
            Throws.ArgumentException.With.Message.Contains("ty1.npy").And.Message.Contains("1 target(s)"), "[N] float targets are [N, 1]: not the training width 2");
    }

    [Test]
    public void BadFilesAreRefusedNamingTheFile()
    {
        using var dir = new TempDirectory();
        using var x = randn(10, 3, ScalarType.Float64, generator: new Generator(1));
        NpyFile.Write(dir["X.npy"], x);
        NpyFile.Write(dir["short.npy"], zeros(9, ScalarType.Int64));
        NpyFile.Write(dir["neg.npy"], full(10, -1L, ScalarType.Int64));
        using var nan = x.clone();
        nan[2, 1] = tensor(double.NaN);
        NpyFile.Write(dir["nan.npy"], nan);
        NpyFile.Write(dir["y.npy"], zeros(10, ScalarType.Int64));
        DataOptions With(string xs, string ys) => new(DataSource.Npy, Npy: new NpyDataFiles(dir[xs], dir[ys]));
        Assert.That(() => DatasetLoader.Load(With("X.npy", "short.npy"), ScalarType.Float64, CPU),
            Throws.ArgumentException.With.Message.Contains("short.npy").And.Message.Contains("10 examples"));
        Assert.That(() => DatasetLoader.Load(With("X.npy", "neg.npy"), ScalarType.Float64, CPU),
            Throws.ArgumentException.With.Message.Contains("negative label"));
        Assert.That(() => DatasetLoader.Load(With("nan.npy", "y.npy"), ScalarType.Float64, CPU),
            Throws.ArgumentException.With.Message.Contains("nan.npy").And.Message.Contains("NaN"));
        Assert.That(() => DatasetLoader.Load(With("X.npy", "missing.npy"), ScalarType.Float64, CPU), Throws.InstanceOf<FileNotFoundException>());
        Assert.That(() => new DataOptions(DataSource.Npy).Validate(), Throws.ArgumentException.With.Message.Contains("X.npy"));
    }

    [Test]
    public void SourceNamesAndClassNamesParse()
    {
        Assert.That(DataOptions.ParseSource("fashion-mnist"), Is.EqualTo(DataSource.FashionMnist));
        Assert.That(DataOptions.ParseSource("MNIST"), Is.EqualTo(DataSource.Mnist));
        Assert.That(DataOptions.ParseSource("npy"), Is.EqualTo(DataSource.Npy));
        Assert.That(() => DataOptions.ParseSource("imagenet"), Throws.ArgumentException.With.Message.Contains("fashion-mnist"));
        Assert.That(DataOptions.ParseClasses("ankle-boot,bag", DataSource.FashionMnist), Is.EqualTo(new[] { 9, 8 }));
        Assert.That(DataOptions.ParseClasses("cat,dog"), Is.EqualTo(new[] { 3, 5 }));
        Assert.That(() => DataOptions.ParseClasses("", DataSource.Cifar10), Throws.ArgumentException.With.Message.Contains("at least two"));
        Assert.That(new DataOptions(DataSource.Mnist).ExampleShape, Is.EqualTo(new long[] { 1, 28, 28 }));
    }
}
