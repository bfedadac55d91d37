using System.Buffers.Binary;
using GpuNtk.Checkpoints;
using NUnit.Framework;
using static GpuNtk.Tests.Checkpoints.TorchZipBuilder;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>Each kind of bad input ends in a clear <see cref="CheckpointFormatException"/>: no crash, hang or giant allocation.</summary>
public class MalformedInputTests
{
    private static readonly byte[] s_fourFloats = new byte[16];

    // ---- zip level ----

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(100)]
    [TestCase(1000)]
    [TestCase(-22)] // everything but the end-of-central-directory record
    public void TruncatedZip(int length)
    {
        var bytes = CheckpointFixtures.Bytes("mlp_state_dict.pt");
        var cut = bytes[..(length >= 0 ? length : bytes.Length + length)];
        var e = Assert.Throws(Is.InstanceOf<CheckpointFormatException>(), () => Load(cut));
        Assert.That(e!.Message, Does.Contain("mlp.pt"));
    }

    [Test]
    public void BadCrc()
    {
        var bytes = CheckpointFixtures.Bytes("mlp_state_dict.pt");
        var records = Records(bytes);
        var target = records.Single(r => r.Key.EndsWith("/data/2", StringComparison.Ordinal)).Value;
        int at = IndexOf(bytes, target) + 7;
        bytes[at] ^= 0x10;
        Assert.That(Fails(bytes), Does.Contain("data/2' fails its CRC-32 check").And.Contain("corrupt"));
    }

    [TestCase("data.pkl", "without a '<folder>/data.pkl' record")]
    [TestCase("data/3", "record 'mlp_state_dict/data/3' is missing")]
    [TestCase("version", "record 'mlp_state_dict/version' is missing")]
    public void MissingRecord(string record, string message)
    {
        var records = Records(CheckpointFixtures.Bytes("mlp_state_dict.pt")).Where(r => r.Key != "mlp_state_dict/" + record);
        Assert.That(Fails(Build(records)), Does.Contain(message));
    }

    [Test]
    public void BadByteOrderAndVersionRecords()
    {
        var records = Records(CheckpointFixtures.Bytes("mlp_state_dict.pt"));
        records.Add(new("mlp_state_dict/byteorder", "middle"u8.ToArray()));
        Assert.That(Fails(Build(records)), Does.Contain("holds 'middle'; expected 'little' or 'big'"));
        var badVersion = Records(CheckpointFixtures.Bytes("mlp_state_dict.pt"))
            .Select(r => r.Key.EndsWith("/version", StringComparison.Ordinal) ? new(r.Key, "three"u8.ToArray()) : r);
        Assert.That(Fails(Build(badVersion)), Does.Contain("not a format version number"));
    }

    [Test]
    public void StorageRecordOfTheWrongLength()
    {
        var pickle = TensorPickle(4, 0, [4], [1]);
        Assert.That(Fails(WithPickle(pickle, new byte[12])), Does.Contain("has 12 bytes but the pickle declares 4 float32 elements (16 bytes)"));
    }

    [Test]
    public void TorchScriptArchiveIsExplained()
    {
        var archive = Build([new("m/data.pkl", Pickle(0x80, 2, 'N', '.')), new("m/constants.pkl", Pickle(0x80, 2, ')', '.')), new("m/version", "3\n"u8.ToArray())]);
        Assert.That(Fails(archive), Does.Contain("TorchScript"));
    }

    [Test]
    public void EmptyAndGarbageFiles()
    {
        Assert.That(Fails([]), Does.Contain("not a PyTorch checkpoint"));
        Assert.That(Fails(new Random(1).GetItems<byte>(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), 4096)), Does.Contain("not a PyTorch checkpoint"));
    }

    // ---- pickle level ----

    [Test]
    public void MalformedPickle()
    {
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, 'R', '.'))), Does.Contain("stack underflow").And.Contain("at byte 2"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, '}', 'N', 's', '.'))), Does.Contain("stack underflow"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, 'e', '.'))), Does.Contain("no MARK"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, ']', 'N', 'N', 's', '.'))), Does.Contain("SETITEM on a list"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, 'h', 7, '.'))), Does.Contain("memo entry 7 was never stored"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, ']'))), Does.Contain("no STOP opcode"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 9, 'N', '.'))), Does.Contain("protocol 9"));
    }

    [TestCase(0xff)]
    [TestCase(0x99)]
    [TestCase('I')] // protocol 0 text opcode
    [TestCase('i')] // INST
    public void UnknownOrRefusedOpcode(int opcode)
    {
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, (byte)opcode, '.'))), Does.Contain($"0x{opcode:x2}").And.Contain("at byte 2"));
    }

    [Test]
    public void AbsurdDeclaredLengths()
    {
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, 'X', 0xFFFFFFF0u, "abc", '.'))), Does.Contain("runs past the end"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 4, 0x8d, ulong.MaxValue, '.'))), Does.Contain("absurd"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 4, 0x95, 1UL << 40, 'N', '.'))), Does.Contain("frame runs past the end"));
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, 0x8b, 0xFFFFFFFFu, '.'))), Does.Contain("negative length"));
        // A storage of 2^62 float32 elements: refused before anything is allocated.
        Assert.That(Fails(WithPickle(TensorPickle(1L << 62, 0, [1], [1]), s_fourFloats)), Does.Contain("absurd size"));
        Assert.That(Fails(WithPickle(TensorPickle(1L << 40, 0, [1], [1]), s_fourFloats)), Does.Contain("declares 1099511627776 float32 elements"));
        // A view of 2^60 elements broadcast from one element.
        Assert.That(Fails(WithPickle(TensorPickle(4, 0, [1L << 30, 1L << 30], [0, 0]), s_fourFloats)), Does.Contain("broadcast views"));
    }

    [Test]
    public void OutOfRangeStorageOffsetsAndStrides()
    {
        Assert.That(Fails(WithPickle(TensorPickle(4, 4, [1], [1]), s_fourFloats)), Does.Contain("reaches past the end of the storage"));
        Assert.That(Fails(WithPickle(TensorPickle(4, 0, [3], [2]), s_fourFloats)), Does.Contain("reaches past the end of the storage"));
        Assert.That(Fails(WithPickle(TensorPickle(4, 1, [2, 2], [2, 1]), s_fourFloats)), Does.Contain("reaches past the end of the storage"));
        Assert.That(Fails(WithPickle(TensorPickle(4, 5, [0], [1]), s_fourFloats)), Does.Contain("reaches past the end of the storage"));
        Assert.That(Fails(WithPickle(TensorPickle(4, -1, [1], [1]), s_fourFloats)), Does.Contain("negative"));
        Assert.That(Fails(WithPickle(TensorPickle(4, 0, [-2], [1]), s_fourFloats)), Does.Contain("negative"));
        Assert.That(Fails(WithPickle(TensorPickle(4, 0, [2, long.MaxValue / 2], [1, 4]), s_fourFloats)), Does.Contain("overflows"));
        Assert.That(Fails(WithPickle(TensorPickle(4, 0, [.. Enumerable.Repeat(1L, 65)], [.. Enumerable.Repeat(1L, 65)]), s_fourFloats)), Does.Contain("65 dimensions"));
        // In range: loads.
        using var ok = TorchCheckpoint.Load(new MemoryStream(WithPickle(TensorPickle(4, 1, [3], [1]), s_fourFloats)), "ok.pt");
    }

    [Test]
    public void RefusedGlobalsAreNamed()
    {
        var viaStackGlobal = Pickle(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, Str("1+1"), 0x85, 'R', '.');
        var e = Assert.Throws<UnsafeCheckpointException>(() => Load(WithPickle(viaStackGlobal)));
        Assert.That(e!.GlobalName, Is.EqualTo("builtins.eval"));
        var viaGlobal = Pickle(0x80, 2, 'c', "subprocess\nPopen\n", ')', 'R', '.');
        e = Assert.Throws<UnsafeCheckpointException>(() => Load(WithPickle(viaGlobal)));
        Assert.That(e!.GlobalName, Is.EqualTo("subprocess.Popen"));
        // Allowed globals still may not be called with nonsense.
        var badCall = Pickle(0x80, 2, 'c', "torch._utils\n_rebuild_tensor_v2\n", 'N', 0x85, 'R', '.');
        Assert.That(Fails(WithPickle(badCall)), Does.Contain("takes 6 or 7 arguments"));
        var storageCall = Pickle(0x80, 2, 'c', "torch\nFloatStorage\n", ')', 'R', '.');
        Assert.That(Fails(WithPickle(storageCall)), Does.Contain("torch.FloatStorage cannot be called"));
    }

    [Test]
    public void DeepNestingCyclesAndExponentialSharing()
    {
        // 5000 nested lists.
        var deep = Pickle(0x80, 2, Enumerable.Repeat((byte)']', 5000).ToArray(), Enumerable.Repeat((byte)'a', 4999).ToArray(), '.');
        Assert.That(Fails(WithPickle(deep)), Does.Contain("nested more than"));
        // A list that contains itself.
        Assert.That(Fails(WithPickle(Pickle(0x80, 2, ']', '2', 'a', '.'))), Does.Contain("cycle"));
        // 80 levels, each a list holding the previous level twice: 2^80 values if expanded.
        var parts = new List<object> { 0x80, 2, ']', 'q', 0 };
        for (int level = 1; level <= 80; level++) parts.AddRange([']', '(', 'h', (byte)(level - 1), 'h', (byte)(level - 1), 'e', 'q', (byte)level]);
        parts.Add('.');
        Assert.That(Fails(WithPickle(Pickle([.. parts]))), Does.Contain("expand to more than"));
    }

    // ---- safetensors ----

    [Test]
    public void SafeTensorsHeaderLengths()
    {
        var good = CheckpointFixtures.Bytes("mlp.safetensors");
        Assert.That(FailsSafeTensors(WithHeaderLength(good, ulong.MaxValue)), Does.Contain("header length"));
        Assert.That(FailsSafeTensors(WithHeaderLength(good, (ulong)good.Length)), Does.Contain("exceeds"));
        Assert.That(FailsSafeTensors(WithHeaderLength(good, 5)), Does.Contain("not valid JSON"));
        Assert.That(FailsSafeTensors(good[..7]), Does.Contain("too short"));
        Assert.That(FailsSafeTensors(good[..^3]), Does.Contain("truncated"));
    }

    [TestCase("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlaps")]
    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "gap")]
    [TestCase("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [TestCase("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "only 8 follow")]
    [TestCase("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "4 bytes of data follow the last tensor")]
    [TestCase("""{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}""", 8, "C64 is not supported")]
    [TestCase("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}""", 8, "not a non-negative integer")]
    [TestCase("""{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}""", 8, "overflows")]
    [TestCase("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "begin ≤ end")]
    [TestCase("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "twice")]
    [TestCase("""{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "not a string")]
    [TestCase("""[1,2]""", 0, "not a JSON object")]
    [TestCase("""{"a":""", 0, "not valid JSON")]
    public void SafeTensorsHeaderContents(string header, int dataBytes, string message)
    {
        var h = System.Text.Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        Assert.That(FailsSafeTensors(file), Does.Contain(message));
    }

    // ---- helpers ----

    internal static void Load(byte[] bytes)
    {
        using var tree = TorchCheckpoint.Load(new MemoryStream(bytes), "mlp.pt");
    }

    private static string Fails(byte[] bytes)
    {
        var e = Assert.Throws(Is.InstanceOf<CheckpointFormatException>(), () => Load(bytes));
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Message, Does.StartWith("mlp.pt: "));
        return e.Message;
    }

    private static string FailsSafeTensors(byte[] bytes)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensors.Load(new MemoryStream(bytes), "m.safetensors").Dispose());
        TestContext.Out.WriteLine(e!.Message);
        Assert.That(e.Message, Does.StartWith("m.safetensors: "));
        return e.Message;
    }

    private static byte[] WithHeaderLength(byte[] file, ulong length)
    {
        var copy = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy, length);
        return copy;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        throw new InvalidOperationException("not found");
    }
}
