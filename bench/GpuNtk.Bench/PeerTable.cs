using System.Globalization;
using System.Text;
using System.Text.Json;
using GpuNtk.Kernels.Empirical;

namespace GpuNtk.Bench;

/// <summary>One torch.func peer run: the bench group it belongs to, its architecture and N, its JSON line, the load after it.</summary>
internal sealed record PeerRun(string Group, string Arch, long N, JsonElement Json, string Load);

/// <summary>
/// The comparison table: for each peer run, torch.func's jacrev+vmap (full, traced) and NTK-vector products (full)
/// against GpuNtk's structured rows of the same architecture, N, dtype and device.
/// </summary>
internal static class PeerTable
{
    public static string Markdown(IReadOnlyList<PeerRun> peers, IReadOnlyList<BenchResult> results)
    {
        var md = new StringBuilder();
        md.AppendLine();
        foreach (var p in peers)
        {
            var j = p.Json;
            md.Append(CultureInfo.InvariantCulture,
                $"Peer `{p.Arch}` ({j.GetProperty("parameters").GetInt64():N0} parameters): `bench/torchfunc_ntk.py` with {j.GetProperty("api").GetString()} " +
                $"(PyTorch {j.GetProperty("torch").GetString()}, {j.GetProperty("device").GetString()}: {j.GetProperty("device_name").GetString()}, " +
                $"{j.GetProperty("threads").GetInt32()} threads), same weights and {p.N} inputs, float32, run right after GpuNtk's {p.Group} rows " +
                $"(load {p.Load}); its full NTK vs GpuNtk's: max relative difference {Num(j, "max_rel_diff_vs_gpuntk")}, " +
                $"traced {Num(j, "trace_max_rel_diff_vs_gpuntk")}");
            if (j.TryGetProperty("vp_max_rel_diff_vs_jc", out var vpDiff))
                md.Append(CultureInfo.InvariantCulture, $"; its NTK-vector products vs its jacrev+vmap: {vpDiff.GetDouble():E1}");
            md.AppendLine(".");
        }
        md.AppendLine();
        md.AppendLine("| architecture | N | NTK | torch.func recipe | torch.func best (s) | median (s) | GpuNtk sd best (s) | median (s) | GpuNtk jc best (s) | torch.func best / GpuNtk sd best | jc best / sd best | torch.func peak RSS (MB) |");
        md.AppendLine("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var p in peers)
        {
            Row(md, p, "full", "jacrev+vmap", "jc_full", NtkOutput.Full, results);
            Row(md, p, "traced", "jacrev+vmap", "jc_trace", NtkOutput.Trace, results);
            Row(md, p, "full", "NTK-vector products", "vp_full", NtkOutput.Full, results);
        }
        return md.ToString();
    }

    private static void Row(StringBuilder md, PeerRun p, string ntk, string recipe, string key, NtkOutput output, IReadOnlyList<BenchResult> results)
    {
        if (!p.Json.TryGetProperty(key + "_s", out var best)) return;
        double median = p.Json.GetProperty(key + "_median_s").GetDouble();
        BenchResult? Ours(NtkImplementation impl) => results.FirstOrDefault(r => r.Case.Arch == p.Arch && r.Case.N == p.N &&
            r.Case.Output == output && r.Case.Implementation == impl && r.Case.DType == TorchSharp.torch.ScalarType.Float32);
        var ours = Ours(NtkImplementation.Structured);
        var jc = Ours(NtkImplementation.JacobianContraction);
        string oursBest = ours is null ? "n/a" : BenchFormat.Seconds(ours.BestSeconds);
        string oursMedian = ours is null ? "n/a" : BenchFormat.Seconds(ours.MedianSeconds);
        string speedUp = ours is null ? "n/a" : (best.GetDouble() / ours.BestSeconds).ToString("F1", CultureInfo.InvariantCulture) + "×";
        string jcBest = jc is null ? "n/a" : BenchFormat.Seconds(jc.BestSeconds);
        string jcOverSd = jc is null || ours is null ? "n/a" : (jc.BestSeconds / ours.BestSeconds).ToString("F2", CultureInfo.InvariantCulture);
        string peak = p.Json.TryGetProperty("peak_rss_bytes", out var rss) ? (rss.GetDouble() / (1 << 20)).ToString("F0", CultureInfo.InvariantCulture) : "n/a";
        md.AppendLine($"| `{BenchFormat.Short(p.Arch)}` | {p.N} | {ntk} | {recipe} | {BenchFormat.Seconds(best.GetDouble())} | " +
                      $"{BenchFormat.Seconds(median)} | {oursBest} | {oursMedian} | {jcBest} | {speedUp} | {jcOverSd} | {peak} |");
    }

    private static string Num(JsonElement j, string key) =>
        j.TryGetProperty(key, out var v) ? v.GetDouble().ToString("E1", CultureInfo.InvariantCulture) : "n/a";
}
