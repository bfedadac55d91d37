using System.Numerics;
using GpuNtk.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>Reading files written by real PyTorch 1.13 (see Fixtures/make_fixtures.py).</summary>
public class TorchCheckpointReadTests
{
    [TestCase("dtypes.pt")]
    [TestCase("dtypes_protocol4.pt")]
    [TestCase("dtypes_protocol5.pt")]
    public void EveryDtypeAndViewMatchesPyTorch(string file)
    {
        using var tree = TorchCheckpoint.Load(CheckpointFixtures.Path(file));
        AssertMatches(tree, CheckpointFixtures.Expected("dtypes"));
    }

    [Test]
    public void BigEndianStoragesAreSwapped()
    {
        using var tree = TorchCheckpoint.Load(CheckpointFixtures.Path("dtypes_big_endian.pt"));
        AssertMatches(tree, CheckpointFixtures.Expected("dtypes_big_endian"));
    }

    [Test]
    public void TensorsSharingAStorageShareMemory()
    {
        using var tree = TorchCheckpoint.Load(CheckpointFixtures.Path("dtypes.pt"));
        var root = (CheckpointDict)tree.Root;
        var whole = ((CheckpointTensor)root["shared.whole"]).Tensor;
        var row = ((CheckpointTensor)root["shared.row"]).Tensor;
        var column = ((CheckpointTensor)root["shared.column"]).Tensor;
        var transposed = ((CheckpointTensor)root["shared.transposed"]).Tensor;
        Assert.That(((CheckpointTensor)root["shared.row"]).StorageKey, Is.EqualTo(((CheckpointTensor)root["shared.whole"]).StorageKey));
        Assert.That(row.storage_offset(), Is.EqualTo(10));
        Assert.That(column.stride(), Is.EqualTo(new long[] { 5 }));
        Assert.That(transposed.stride(), Is.EqualTo(new long[] { 1, 5 }));

        whole[2, 3] = tensor(100f); // row 2 = storage 10..14, column 3 = storage 3, 8, 13, 18
        Assert.That(row[3].item<float>(), Is.EqualTo(100f));
        Assert.That(column[2].item<float>(), Is.EqualTo(100f));
        Assert.That(transposed[3, 2].item<float>(), Is.EqualTo(100f));

        // The same tensor saved under two names (tied weights) is one node.
        Assert.That(root["tied.decoder"], Is.SameAs(root["tied.encoder"]));
    }

    [Test]
    public void ContainerIsReturnedAsATree()
    {
        using var tree = TorchCheckpoint.Load(CheckpointFixtures.Path("container.pt"));
        var root = (CheckpointDict)tree.Root;
        Assert.That(((CheckpointScalar)root["epoch"]).Value, Is.EqualTo(7L));
        Assert.That(((CheckpointScalar)root["lr"]).Value, Is.EqualTo(0.001));
        Assert.That(((CheckpointString)root["name"]).Value, Is.EqualTo("mlp-6-16-16-3"));
        Assert.That(((CheckpointScalar)root["big"]).Value, Is.EqualTo(BigInteger.Pow(2, 70)));
        Assert.That(((CheckpointScalar)root["negative"]).Value, Is.EqualTo(-123456789012L));
        var history = (CheckpointList)root["history"];
        Assert.That(history.IsTuple, Is.False);
        Assert.That(history.Items.Select(i => ((CheckpointScalar)i).Value), Is.EqualTo(new object[] { 1.5, 2.25, -0.125 }));
        var flags = (CheckpointList)root["flags"];
        Assert.That(flags.IsTuple, Is.True);
        Assert.That(flags.Items.Select(i => ((CheckpointScalar)i).Value), Is.EqualTo(new object?[] { true, false, null }));

        // Optimizer state: int keys, per-parameter tensors, param_groups with floats, tuples and bools.
        var optimizer = (CheckpointDict)root["optimizer"];
        var state = (CheckpointDict)optimizer["state"];
        Assert.That(state.Entries.Select(e => ((CheckpointScalar)e.Key).Value), Is.EqualTo(new object[] { 0L, 1L, 2L, 3L, 4L, 5L }));
        var first = (CheckpointDict)state.Entries[0].Value;
        Assert.That(((CheckpointTensor)first["exp_avg"]).Tensor.shape, Is.EqualTo(new long[] { 16, 6 }));
        var group = (CheckpointDict)((CheckpointList)optimizer["param_groups"]).Items[0];
        Assert.That(((CheckpointScalar)group["lr"]).Value, Is.EqualTo(0.001));
        Assert.That(((CheckpointList)group["betas"]).IsTuple, Is.True);

        var found = tree.FindStateDict();
        Assert.That(found?.Path, Is.EqualTo("model"));
        using var sd = tree.ToStateDict();
        var expected = CheckpointFixtures.Expected("container_model");
        Assert.That(sd.Keys, Is.EqualTo(expected.Keys));
        foreach (var (name, e) in expected)
            Assert.That(CheckpointFixtures.Values(sd[name]), Is.EqualTo(e.Values), name);

        Assert.That(tree.Leaves().Select(l => l.Path), Does.Contain("optimizer.param_groups.0.betas.1"));
    }

    [Test]
    public void StateDictOutlivesItsTree()
    {
        StateDict sd;
        using (var tree = TorchCheckpoint.Load(CheckpointFixtures.Path("cnn_state_dict.pt")))
            sd = tree.ToStateDict();
        using (sd)
        {
            Assert.That(sd.Keys.First(), Is.EqualTo("0.weight"));
            Assert.That(sd["0.weight"].shape, Is.EqualTo(new long[] { 4, 1, 3, 3 }));
            Assert.That(CheckpointFixtures.Values(sd["0.weight"]).All(double.IsFinite), Is.True);
        }
    }

    [Test]
    public void RezippedWithCompressionStillLoads()
    {
        // torch.save stores records uncompressed; an archive re-zipped with deflate must read the same.
        var records = TorchZipBuilder.Records(CheckpointFixtures.Bytes("dtypes.pt"));
        var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in records)
            {
                using var entry = zip.CreateEntry(name, System.IO.Compression.CompressionLevel.Optimal).Open();
                entry.Write(data);
            }
        stream.Position = 0;
        using var tree = TorchCheckpoint.Load(stream, "deflated.pt");
        AssertMatches(tree, CheckpointFixtures.Expected("dtypes"));
    }

    [Test]
    public void LegacyFormatIsRefusedWithTheRemedy()
    {
        var e = Assert.Throws<LegacyCheckpointException>(() => TorchCheckpoint.Load(CheckpointFixtures.Path("legacy.pt")));
        Assert.That(e!.Message, Does.Contain("legacy.pt").And.Contain("PyTorch < 1.6").And.Contain("re-save"));
    }

    [Test]
    public void ForbiddenGlobalIsRefusedByNameAndNothingRuns()
    {
        var e = Assert.Throws<UnsafeCheckpointException>(() => TorchCheckpoint.Load(CheckpointFixtures.Path("evil.pt")));
        Assert.That(e!.GlobalName, Is.EqualTo("posix.system"));
        Assert.That(e.Message, Does.Contain("evil.pt").And.Contain("'posix.system'").And.Contain("Nothing was executed"));
    }

    [Test]
    public void WholePickledModuleIsRefusedWithAdvice()
    {
        var e = Assert.Throws<UnsafeCheckpointException>(() => TorchCheckpoint.Load(CheckpointFixtures.Path("whole_module.pt")));
        Assert.That(e!.GlobalName, Is.EqualTo("torch.nn.modules.container.Sequential"));
        Assert.That(e.Message, Does.Contain("state_dict()"));
    }

    [Test]
    public void SafeTensorsFileIsPointedToTheRightReader()
    {
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.Load(CheckpointFixtures.Path("dtypes.safetensors")));
        Assert.That(e!.Message, Does.Contain("safetensors"));
    }

    internal static void AssertMatches(CheckpointTree tree, IReadOnlyDictionary<string, ExpectedTensor> expected)
    {
        var root = (CheckpointDict)tree.Root;
        Assert.That(root.Entries.Select(e => ((CheckpointString)e.Key).Value), Is.EqualTo(expected.Keys));
        foreach (var (name, e) in expected)
        {
            var t = (CheckpointTensor)root[name];
            Assert.That(t.DType.Name, Is.EqualTo(e.DType), name);
            Assert.That(t.Tensor.shape, Is.EqualTo(e.Shape), name);
            Assert.That(CheckpointFixtures.Values(t.Tensor), Is.EqualTo(e.Values), name);
        }
    }
}
