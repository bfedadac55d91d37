using System.Diagnostics;
using GpuNtk.Checkpoints;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace GpuNtk.Tests.Checkpoints;

/// <summary>
/// Deterministic fuzzing of the readers with mutated fixture bytes: every case must either load (and then every tensor
/// must be readable end to end) or throw a <see cref="CheckpointFormatException"/>. Any other exception, a case that
/// takes seconds, or one that allocates a lot of managed memory fails the test.
/// </summary>
public class CheckpointFuzzTests
{
    /// <summary>Seed and case-count multiplier; GPUNTK_FUZZ_SEED and GPUNTK_FUZZ_SCALE override them for longer runs.</summary>
    private static readonly int s_seed = int.TryParse(Environment.GetEnvironmentVariable("GPUNTK_FUZZ_SEED"), out int seed) ? seed : 20240601;
    private static readonly int s_scale = int.TryParse(Environment.GetEnvironmentVariable("GPUNTK_FUZZ_SCALE"), out int scale) && scale > 0 ? scale : 1;
    private const long MaxManagedBytesPerCase = 64L << 20;

    private static readonly string[] s_torchFiles = ["mlp_state_dict.pt", "dtypes.pt", "dtypes_protocol4.pt", "container.pt", "dtypes_big_endian.pt"];
    private static readonly string[] s_safeTensorsFiles = ["dtypes.safetensors", "mlp.safetensors"];

    [Test]
    public void MutatedFilesLoadOrFailCleanly()
    {
        var random = new Random(s_seed);
        var stats = new FuzzStats();
        var watch = Stopwatch.StartNew();

        // 1. Whole torch.save files: mostly exercises the zip layer (the CRC catches changes to record contents).
        foreach (var file in s_torchFiles)
        {
            var original = CheckpointFixtures.Bytes(file);
            for (int i = 0; i < 600 * s_scale; i++) Run(stats, $"{file} raw #{i}", Mutate(original, random), LoadTorch);
        }

        // 2. data.pkl mutated, then repackaged with valid CRCs: exercises the unpickler and the tensor views.
        foreach (var file in s_torchFiles)
        {
            var records = TorchZipBuilder.Records(CheckpointFixtures.Bytes(file));
            int pickle = records.FindIndex(r => r.Key.EndsWith("/data.pkl", StringComparison.Ordinal));
            for (int i = 0; i < 400 * s_scale; i++)
            {
                var mutated = records.ToList();
                mutated[pickle] = new(mutated[pickle].Key, Mutate(records[pickle].Value, random));
                Run(stats, $"{file} data.pkl #{i}", TorchZipBuilder.Build(mutated), LoadTorch);
            }
        }

        // 3. Other records mutated and repackaged (storages, version, byteorder) or dropped.
        foreach (var file in s_torchFiles)
        {
            var records = TorchZipBuilder.Records(CheckpointFixtures.Bytes(file));
            for (int i = 0; i < 80 * s_scale; i++)
            {
                var mutated = records.ToList();
                int which = random.Next(mutated.Count);
                if (random.Next(4) == 0) mutated.RemoveAt(which);
                else mutated[which] = new(mutated[which].Key, Mutate(mutated[which].Value, random));
                Run(stats, $"{file} record #{i}", TorchZipBuilder.Build(mutated), LoadTorch);
            }
        }

        // 4. safetensors files (no checksum: every mutation reaches the parser).
        foreach (var file in s_safeTensorsFiles)
        {
            var original = CheckpointFixtures.Bytes(file);
            for (int i = 0; i < 600 * s_scale; i++) Run(stats, $"{file} #{i}", Mutate(original, random), LoadSafeTensors);
        }

        watch.Stop();
        TestContext.Out.WriteLine($"seed {s_seed}: {stats.Cases} cases in {watch.Elapsed.TotalSeconds:F1} s: {stats.Loaded} loaded, " +
                                  $"{stats.Rejected} rejected with CheckpointFormatException; slowest case {stats.Slowest.TotalMilliseconds:F0} ms");
        foreach (var (kind, count) in stats.Messages.OrderByDescending(m => m.Value).Take(12))
            TestContext.Out.WriteLine($"  {count,5} × {kind}");
        Assert.That(stats.Failures, Is.Empty, "cases that failed in another way");
        Assert.That(stats.Cases, Is.GreaterThanOrEqualTo(2000));
        Assert.That(watch.Elapsed.TotalSeconds, Is.LessThan(60 * s_scale));
    }

    private static void LoadTorch(byte[] bytes)
    {
        using var tree = TorchCheckpoint.Load(new MemoryStream(bytes), "fuzz.pt");
        foreach (var (_, leaf) in tree.Leaves())
        {
            _ = leaf.Describe();
            if (leaf is CheckpointTensor t) Touch(t.Tensor);
        }
        if (tree.FindStateDict() is not null) tree.ToStateDict().Dispose();
    }

    private static void LoadSafeTensors(byte[] bytes)
    {
        using var sd = SafeTensors.Load(new MemoryStream(bytes), "fuzz.safetensors");
        foreach (var t in sd.Values) Touch(t);
    }

    /// <summary>Reads every element of a (possibly strided) view: an out-of-bounds view would crash here.</summary>
    private static void Touch(Tensor t)
    {
        using var scope = NewDisposeScope();
        _ = t.to_type(ScalarType.Float64).sum().item<double>();
    }

    private static void Run(FuzzStats stats, string name, byte[] input, Action<byte[]> load)
    {
        stats.Cases++;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        try
        {
            load(input);
            stats.Loaded++;
        }
        catch (CheckpointFormatException e)
        {
            stats.Rejected++;
            string kind = e.GetType().Name + ": " + Shorten(e.Message);
            stats.Messages[kind] = stats.Messages.GetValueOrDefault(kind) + 1;
        }
        catch (Exception e)
        {
            stats.Failures.Add($"{name}: {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        }
        watch.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (watch.Elapsed > stats.Slowest) stats.Slowest = watch.Elapsed;
        if (watch.Elapsed.TotalSeconds > 2) stats.Failures.Add($"{name}: took {watch.Elapsed.TotalSeconds:F1} s");
        if (allocated > MaxManagedBytesPerCase) stats.Failures.Add($"{name}: allocated {allocated} managed bytes");
    }

    /// <summary>One to three mutations: bit flips, random bytes, extreme integers, truncation, deletion, insertion.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToList();
        int count = 1 + random.Next(3);
        for (int m = 0; m < count && bytes.Count > 0; m++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(7))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2:
                    {
                        ulong[] extremes = [0, 1, 0x7F, 0xFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, ulong.MaxValue, 1UL << 62, 0x7FFF_FFFF_FFFF_FFFF];
                        var value = BitConverter.GetBytes(extremes[random.Next(extremes.Length)]);
                        int width = random.Next(2) == 0 ? 4 : 8;
                        for (int k = 0; k < width && at + k < bytes.Count; k++) bytes[at + k] = value[k];
                        break;
                    }
                case 3: bytes.RemoveRange(at, bytes.Count - at); break;
                case 4: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16))); break;
                case 5: bytes.InsertRange(at, Enumerable.Range(0, 1 + random.Next(16)).Select(_ => (byte)random.Next(256))); break;
                default: // copy a chunk over another place (duplicated opcodes, shifted headers)
                    {
                        int from = random.Next(bytes.Count), length = Math.Min(1 + random.Next(32), bytes.Count - Math.Max(at, from));
                        var chunk = bytes.GetRange(from, Math.Max(0, Math.Min(length, bytes.Count - from)));
                        for (int k = 0; k < chunk.Count && at + k < bytes.Count; k++) bytes[at + k] = chunk[k];
                        break;
                    }
            }
        }
        return [.. bytes];
    }

    /// <summary>The message without file names and numbers, to group similar rejections.</summary>
    private static string Shorten(string message)
    {
        var text = System.Text.RegularExpressions.Regex.Replace(message, @"[0-9a-f]{8}|\d+", "N");
        int remedy = text.IndexOf(" Remedy", StringComparison.Ordinal);
        if (remedy > 0) text = text[..remedy];
        return text.Length > 110 ? text[..110] + "…" : text;
    }

    private sealed class FuzzStats
    {
        public int Cases, Loaded, Rejected;
        public TimeSpan Slowest;
        public List<string> Failures { get; } = [];
        public Dictionary<string, int> Messages { get; } = [];
    }
}
