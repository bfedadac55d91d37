using GpuNtk.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Data;

public sealed class NpyFileTests
{
    [TestCase(ScalarType.Float64)]
    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.Int64)]
    [TestCase(ScalarType.Byte)]
    public void RoundTripsShapesAndValues(ScalarType dtype)
    {
        using var x = (randn(3, 4, 5) * 10).to(dtype);
        var path = Path.Combine(Path.GetTempPath(), $"gpuntk-npy-{Guid.NewGuid():N}.npy");
        try
        {
            NpyFile.Write(path, x);
            using var back = NpyFile.Read(path);
            Assert.That(back.dtype, Is.EqualTo(dtype));
            Assert.That(back.shape, Is.EqualTo(x.shape));
            Assert.That(back.eq(x).all().item<bool>(), Is.True);
            Assert.That(new FileInfo(path).Length % 64, Is.EqualTo((3 * 4 * 5 * x.element_size()) % 64), "header padded to 64 bytes");
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void ReadsNumpyWrittenBytes()
    {
        // numpy.save of np.arange(6, dtype='<f8').reshape(2, 3), header as NumPy 1.x writes it.
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
        header = header.PadRight(128 - 10 - 1) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(header));
        for (int i = 0; i < 6; i++) bytes.AddRange(BitConverter.GetBytes((double)i));
        using var t = NpyFile.Parse(bytes.ToArray());
        Assert.That(t.shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(t[1, 2].item<double>(), Is.EqualTo(5.0));
    }

    [TestCase("(4611686018427387904,)")]
    [TestCase("(4294967296, 4294967296, 4294967296)")]
    [TestCase("(99999999999999999999,)")]
    [TestCase("(-1, 2)")]
    [TestCase("(2, x)")]
    public void AbsurdShapesAreAClearFormatError(string shape)
    {
        var header = ("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }").PadRight(128 - 10 - 1) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(header));
        bytes.AddRange(new byte[48]);
        Assert.That(() => NpyFile.Parse(bytes.ToArray()), Throws.InstanceOf<FormatException>());
    }

    [Test]
    public void FortranOrderIsTransposedBack()
    {
        var header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }".PadRight(117) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (var v in new float[] { 0, 3, 1, 4, 2, 5 }) bytes.AddRange(BitConverter.GetBytes(v)); // column-major of [[0,1,2],[3,4,5]]
        using var t = NpyFile.Parse(bytes.ToArray());
        Assert.That(t[0, 2].item<float>(), Is.EqualTo(2f));
        Assert.That(t[1, 0].item<float>(), Is.EqualTo(3f));
    }

    [Test]
    public void TruncatedOrForeignFilesGiveClearErrors()
    {
        using var x = ones(4, 4);
        var good = NpyFile.Serialize(x);
        Assert.Throws<FormatException>(() => NpyFile.Parse(good[..^3]));
        Assert.Throws<FormatException>(() => NpyFile.Parse("PK\x03\x04 not numpy"u8.ToArray()));
        var path = Path.Combine(Path.GetTempPath(), $"gpuntk-bad-{Guid.NewGuid():N}.npy");
        File.WriteAllBytes(path, good[..20]);
        try
        {
            var e = Assert.Throws<FormatException>(() => NpyFile.Read(path));
            Assert.That(e!.Message, Does.Contain(path));
        }
        finally { File.Delete(path); }
    }
}
