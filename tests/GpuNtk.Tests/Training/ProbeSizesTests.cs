using GpuNtk.Networks;
using GpuNtk.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Training;

public sealed class ProbeSizesTests
{
    [Test]
    public void ADenseLayerCostsItsParametersAndAConvolutionItsParametersTimesItsOutputPixels()
    {
        using var fcn = NetworkFactory.Create("fcn:depth=1,width=7,in=5,out=3", seed: 0);
        Assert.That(ProbeSizes.MultiplyAddsPerExample(fcn, zeros(2, 5)), Is.EqualTo((5 + 1) * 7 + (7 + 1) * 3));
        Assert.That(ProbeSizes.CostPerExample(fcn, zeros(2, 5)), Is.EqualTo((5 + 1) * 7 + (7 + 1) * 3 + ProbeSizes.MultiplyAddsPerActivation * (7 + 3)));

        // conv3×3 3→4 at 8×8, then three stages at 8, 4, 2 pixels (pooling between), then the dense head.
        var spec = (CnnSpec)ArchitectureSpec.Parse("cnn:depth=1,channels=4,size=8,out=3");
        using var cnn = NetworkFactory.Create(spec, 0);
        long conv = 9 * 4 + 1;
        long expected = (9 * 3 + 1) * 4 * 64 + 4 * conv * 64 + 4 * conv * 16 + 4 * conv * 4 + (4 + 1) * 3;
        Assert.That(ProbeSizes.MultiplyAddsPerExample(cnn, zeros(1, spec.InputSize)), Is.EqualTo(expected));
    }

    [Test]
    public void TheDefaultFcnKeepsTheWholeProbeAndConvolutionalNetworksUseFewerExamples()
    {
        using var fcn = NetworkFactory.Create("fcn:depth=2,width=512,in=3072,out=10", seed: 0);
        using var probe = zeros(256, 3072);
        Assert.That(ProbeSizes.EtaMaxExamples(fcn, probe), Is.EqualTo(256), "the FCN's η_max is measured as before");
        Assert.That(ProbeSizes.DefaultNtkExamples(ArchitectureSpec.Parse("fcn:depth=2,width=512,in=3072,out=10"), 256), Is.EqualTo(256));
        Assert.That(ProbeSizes.DefaultNtkExamples(ArchitectureSpec.Parse("fcn:depth=2,width=512,in=3072,out=10"), 100), Is.EqualTo(100), "never beyond the probe");

        var wrn = ArchitectureSpec.Parse("wrn:depth=10,k=1");
        using var net = NetworkFactory.Create(wrn, 0);
        int eta = ProbeSizes.EtaMaxExamples(net, zeros(256, wrn.InputSize));
        int ntk = ProbeSizes.DefaultNtkExamples(wrn, 256);
        TestContext.Progress.WriteLine($"wrn:depth=10,k=1: λ_max on {eta}, NTK on {ntk} examples");
        Assert.That(eta, Is.InRange(ProbeSizes.MinExamples, 48));
        Assert.That(ntk, Is.InRange(ProbeSizes.MinNtkExamples, 96));
        Assert.That(ProbeSizes.DefaultNtkExamples(ArchitectureSpec.Parse("cnn:depth=1,channels=64"), 256), Is.EqualTo(ProbeSizes.MinNtkExamples));
        Assert.That(ProbeSizes.EtaMaxExamples(net, zeros(10, wrn.InputSize)), Is.EqualTo(10), "a small probe is used whole");
    }

    [Test]
    public void AnyModulesDefaultEqualsItsSpecsAndCountingLeavesEveryModulesModeAsItWas()
    {
        var wrn = ArchitectureSpec.Parse("wrn:depth=10,k=1");
        using var net = NetworkFactory.Create(wrn, 0);
        Assert.That(ProbeSizes.DefaultNtkExamples(net, zeros(256, wrn.InputSize)), Is.EqualTo(ProbeSizes.DefaultNtkExamples(wrn, 256)),
                    "TrainConfig.NtkProbe = null (library) and the CLI's default agree");
        Assert.That(new TrainConfig().NtkProbe, Is.Null);

        // A user module in training mode with a BatchNorm that one example would break, and one submodule in eval mode.
        using var module = nn.Sequential(("conv", nn.Conv2d(2, 3, 3)), ("norm", nn.BatchNorm2d(3)), ("flat", nn.Flatten()), ("head", nn.Linear(12, 2)));
        module.train();
        module.children().Last().eval();
        var norm = (TorchSharp.Modules.BatchNorm2d)module.children().ElementAt(1);
        var meanBefore = norm.running_mean!.clone();
        Assert.That(ProbeSizes.DefaultNtkExamples(module, randn(8, 2, 4, 4)), Is.EqualTo(8));
        Assert.That(module.training && norm.training && !module.children().Last().training, Is.True, "modes restored per module");
        Assert.That(norm.running_mean!.eq(meanBefore).all().item<bool>(), Is.True, "the running statistics did not move");
    }
}
