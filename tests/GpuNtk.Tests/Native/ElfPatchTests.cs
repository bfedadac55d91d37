using GpuNtk.Native;
using NUnit.Framework;

namespace GpuNtk.Tests.Native;

public sealed class ElfPatchTests
{
    private static readonly WeakVersionPatch Patch = WeakVersionPatch.LibStdCxx3432;

    [Test]
    public void ParsesVersionNeedsAndSymbols()
    {
        var image = ElfImage.Parse(ElfBuilder.LikeLibTorchSharp().Build());
        var needs = image.VersionNeeds();
        Assert.That(needs.Select(n => $"{n.File}:{n.Version}:{n.VersionIndex}"),
            Is.EqualTo(new[] { "libstdc++.so.6:GLIBCXX_3.4:2", "libstdc++.so.6:GLIBCXX_3.4.32:3", "libc.so.6:GLIBC_2.2.5:4" }));
        Assert.That(needs.All(n => !n.IsWeak));
        Assert.That(image.SymbolsWithVersionIndex(3), Is.EqualTo(new[] { "_ZSt21ios_base_library_initv" }));
    }

    [Test]
    public void PatchSetsOnlyTheWeakFlagOfThatEntry()
    {
        var original = ElfBuilder.LikeLibTorchSharp().Build();
        var image = ElfImage.Parse((byte[])original.Clone());
        Assert.That(Patch.Apply(image), Is.EqualTo(PatchOutcome.Patched));
        var needs = ElfImage.Parse(image.Bytes).VersionNeeds();
        Assert.That(needs.Single(n => n.Version == "GLIBCXX_3.4.32").Flags, Is.EqualTo(ElfImage.VerFlagWeak));
        Assert.That(needs.Where(n => n.Version != "GLIBCXX_3.4.32").All(n => n.Flags == 0));
        int differing = original.Zip(image.Bytes).Count(p => p.First != p.Second);
        Assert.That(differing, Is.EqualTo(1), "exactly one byte (vna_flags) changes");
    }

    [Test]
    public void PatchIsIdempotent()
    {
        var image = ElfImage.Parse(ElfBuilder.LikeLibTorchSharp().Build());
        Patch.Apply(image);
        var once = (byte[])image.Bytes.Clone();
        Assert.That(Patch.Apply(ElfImage.Parse(image.Bytes)), Is.EqualTo(PatchOutcome.AlreadyWeak));
        Assert.That(image.Bytes, Is.EqualTo(once));
    }

    [Test]
    public void RefusesWhenOtherSymbolsUseTheVersion()
    {
        var bytes = ElfBuilder.LikeLibTorchSharp().Symbol("_ZNSt7__cxx1112basic_stringIcE10_M_replaceEv", 3).Build();
        var e = Assert.Throws<ElfFormatException>(() => Patch.Apply(ElfImage.Parse(bytes)));
        Assert.That(e!.Message, Does.Contain("_M_replace"));
    }

    [Test]
    public void RefusesWhenTheVersionIsNotRequired()
    {
        var bytes = new ElfBuilder().Need("libstdc++.so.6", ("GLIBCXX_3.4", 0, 2)).Symbol("x", 2).Build();
        Assert.Throws<ElfFormatException>(() => Patch.Apply(ElfImage.Parse(bytes)));
    }

    [Test]
    public void RefusesWhenTheVersionIsRequiredTwice()
    {
        var bytes = new ElfBuilder()
            .Need("libstdc++.so.6", ("GLIBCXX_3.4.32", 0, 2))
            .Need("libstdc++.so.6", ("GLIBCXX_3.4.32", 0, 3))
            .Symbol("_ZSt21ios_base_library_initv", 2).Build();
        Assert.Throws<ElfFormatException>(() => Patch.Apply(ElfImage.Parse(bytes)));
    }

    [TestCase(0, (byte)0x00, TestName = "RejectsBadMagic")]
    [TestCase(4, (byte)1, TestName = "Rejects32BitElf")]
    [TestCase(5, (byte)2, TestName = "RejectsBigEndianElf")]
    public void RejectsUnexpectedHeaders(int offset, byte value)
    {
        var bytes = ElfBuilder.LikeLibTorchSharp().Build();
        bytes[offset] = value;
        Assert.Throws<ElfFormatException>(() => ElfImage.Parse(bytes));
    }

    [Test]
    public void RejectsTruncatedImagesWithoutCrashing()
    {
        var bytes = ElfBuilder.LikeLibTorchSharp().Build();
        for (int len = 0; len < bytes.Length; len += 7)
        {
            var cut = bytes[..len];
            Assert.Throws<ElfFormatException>(() => Patch.Apply(ElfImage.Parse(cut)), $"length {len}");
        }
    }

    [Test]
    public void RealShimHasTheExpectedLayoutAndPatchesInMemory()
    {
        var shim = TorchNative.FindShim(AppContext.BaseDirectory);
        if (shim is null) Assert.Ignore("libLibTorchSharp.so is not in the test output (not Linux?)");
        var image = ElfImage.Parse(File.ReadAllBytes(shim!));
        var outcome = Patch.Apply(image);
        Assert.That(outcome, Is.AnyOf(PatchOutcome.Patched, PatchOutcome.AlreadyWeak));
        Assert.That(Patch.Apply(ElfImage.Parse(image.Bytes)), Is.EqualTo(PatchOutcome.AlreadyWeak));
    }

    [Test]
    public void PackageCacheCopyIsNeverModified()
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var original = Path.Combine(cache, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", TorchNative.ShimFileName);
        if (!File.Exists(original)) Assert.Ignore($"{original} not present (other OS or package folder)");
        var needs = ElfImage.Parse(File.ReadAllBytes(original)).VersionNeeds();
        Assert.That(needs.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak, Is.False,
            "the NuGet cache's copy must keep its original (strong) requirement");
    }

    [Test]
    public void HostLibStdCxxVersionsAreReadable()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Linux only");
        var versions = HostLibraries.DefinedVersions("libstdc++.so.6");
        Assert.That(versions, Does.Contain("GLIBCXX_3.4"));
    }

    [Test]
    public void LibTorchIsUsableAfterLoading()
    {
        using var x = TorchSharp.torch.ones(2, 3, requires_grad: true);
        using var y = (x * x).sum();
        var g = TorchSharp.torch.autograd.grad([y], [x])[0];
        Assert.That(g.sum().item<float>(), Is.EqualTo(12f));
    }
}
