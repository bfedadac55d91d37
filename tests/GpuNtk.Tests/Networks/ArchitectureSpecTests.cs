using GpuNtk.Networks;
using NUnit.Framework;

namespace GpuNtk.Tests.Networks;

public sealed class ArchitectureSpecTests
{
    [TestCase("fcn:depth=2,width=512,act=relu,param=ntk,in=3072,out=10")]
    [TestCase("fcn:depth=0,width=1,act=erf,param=standard,in=7,out=1,wstd=1.5,bstd=0")]
    [TestCase("cnn:depth=2,channels=32,act=gelu,param=ntk,in=1,size=8,out=2")]
    [TestCase("wrn:depth=16,k=2,act=tanh,param=standard,in=3,size=32,out=10,wstd=1,bstd=0.05")]
    [TestCase("fcn")]
    [TestCase("cnn:channels=8")]
    [TestCase("fcn:depth=1,width=4,norm=layer,in=3,out=2")]
    public void PrintedSpecParsesBackToAnEqualRecord(string text)
    {
        var spec = ArchitectureSpec.Parse(text);
        var printed = spec.ToString();
        Assert.That(ArchitectureSpec.Parse(printed), Is.EqualTo(spec));
        Assert.That(ArchitectureSpec.Parse(printed).ToString(), Is.EqualTo(printed));
    }

    [Test]
    public void OptionalKeysAtTheirDefaultAreNotPrinted()
    {
        Assert.That(ArchitectureSpec.Parse("fcn:norm=none").ToString(), Does.Not.Contain("norm"));
        Assert.That(ArchitectureSpec.Parse("fcn:norm=layer").ToString(), Does.EndWith(",norm=layer"));
    }

    [Test]
    public void DefaultsAreFilledInAndKeysAreCaseInsensitive()
    {
        var spec = (FcnSpec)ArchitectureSpec.Parse(" FCN : Width=64 , ACT=erf ");
        Assert.That(spec.Width, Is.EqualTo(64));
        Assert.That(spec.Depth, Is.EqualTo(2));
        Assert.That(spec.Activation, Is.EqualTo(Activation.Erf));
        Assert.That(spec.WStd, Is.EqualTo(1.0), "erf defaults to σ_w = 1");
        Assert.That(((FcnSpec)ArchitectureSpec.Parse("fcn")).WStd, Is.EqualTo(Math.Sqrt(2)), "relu defaults to σ_w = √2");
    }

    [TestCase("mlp:depth=2", "unknown kind")]
    [TestCase("fcn:depht=2", "depht")]
    [TestCase("fcn:depth=two", "not an integer")]
    [TestCase("fcn:act=swish", "unknown activation")]
    [TestCase("fcn:param=mup", "unknown parameterization")]
    [TestCase("fcn:width", "not key=value")]
    [TestCase("fcn:width=3,width=4", "given twice")]
    [TestCase("fcn:norm=batch", "norm=batch is not one of none, layer")]
    [TestCase("cnn:norm=layer", "unknown key(s) norm for cnn; valid keys: depth, channels, act")]
    public void BadSpecsGiveErrorsNamingTheProblem(string text, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => ArchitectureSpec.Parse(text));
        Assert.That(e!.Message, Does.Contain(fragment));
    }

    [TestCase("fcn:width=0")]
    [TestCase("fcn:wstd=-1")]
    [TestCase("cnn:size=30")]
    [TestCase("wrn:depth=12")]
    public void OutOfRangeValuesAreRejected(string text) =>
        Assert.Throws<ArgumentException>(() => ArchitectureSpec.Parse(text));
}
