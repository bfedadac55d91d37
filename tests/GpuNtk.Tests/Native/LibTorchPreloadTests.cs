using GpuNtk.Native;
using NUnit.Framework;

namespace GpuNtk.Tests.Native;

public sealed class LibTorchPreloadTests
{
    private string _root = "";

    [SetUp]
    public void MakeFolder() => _root = Directory.CreateTempSubdirectory("gpuntk-preload-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    [Test]
    public void ReadsTheVersionOfAPyTorchWheel()
    {
        var lib = Directory.CreateDirectory(Path.Combine(_root, "torch", "lib")).FullName;
        File.WriteAllText(Path.Combine(_root, "torch", "version.py"), "__version__ = '2.10.0+cu128'\ndebug = False\n");
        Assert.That(LibTorchPreload.ReadVersion(lib), Is.EqualTo("2.10.0+cu128"));
    }

    [Test]
    public void ReadsTheVersionOfALibTorchZip()
    {
        var lib = Directory.CreateDirectory(Path.Combine(_root, "libtorch", "lib")).FullName;
        File.WriteAllText(Path.Combine(_root, "libtorch", "build-version"), "2.10.0+cpu\n");
        Assert.That(LibTorchPreload.ReadVersion(lib), Is.EqualTo("2.10.0+cpu"));
    }

    [Test]
    public void RefusesAnotherVersionBeforeLoadingAnything()
    {
        var lib = Directory.CreateDirectory(Path.Combine(_root, "torch", "lib")).FullName;
        File.WriteAllText(Path.Combine(_root, "torch", "version.py"), "__version__ = '1.13.0'\n");
        File.WriteAllText(Path.Combine(lib, "libtorch.so"), "not really a library");
        var e = Assert.Throws<NativeLoadException>(() => LibTorchPreload.Load(lib));
        Assert.That(e!.Message, Does.Contain("1.13.0").And.Contain("2.10.0").And.Contain(LibTorchPreload.AllowMismatchVariable));
    }

    [Test]
    public void MissingFolderOrLibraryIsAClearError()
    {
        Assert.That(Assert.Throws<NativeLoadException>(() => LibTorchPreload.Load(Path.Combine(_root, "nope")))!.Message,
            Does.Contain("no such folder"));
        Assert.That(Assert.Throws<NativeLoadException>(() => LibTorchPreload.Load(_root))!.Message,
            Does.Contain("libtorch.so is not in that folder"));
    }

    [Test]
    public void PreloadsTheBundledLibTorchAndReportsUnknownVersion()
    {
        var shim = TorchNative.FindShim(AppContext.BaseDirectory);
        if (shim is null) Assert.Ignore("no bundled libtorch in the test output (not Linux)");
        var result = LibTorchPreload.Load(Path.GetDirectoryName(shim)!);
        Assert.That(result.Loaded, Does.Contain("libtorch.so").And.Contain("libc10.so"));
        Assert.That(result.HasCuda, Is.False);
        Assert.That(result.VersionWarning, Does.Contain("could not determine"));
    }
}
