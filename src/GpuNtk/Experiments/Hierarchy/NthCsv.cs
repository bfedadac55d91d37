using System.Globalization;
using System.Text;

namespace GpuNtk.Experiments.Hierarchy;

/// <summary>Writes an <see cref="NthExperimentResult"/> as CSV files (invariant culture).</summary>
public static class NthCsv
{
    /// <returns>The paths written: observations, summary, exponents, timings.</returns>
    public static IReadOnlyList<string> Write(string directory, NthExperimentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        var paths = new[] { "nth_observations.csv", "nth_summary.csv", "nth_exponents.csv", "nth_timings.csv" }
            .Select(f => Path.Combine(directory, f)).ToArray();
        Write(paths[0], "width,seed,order,time,loss,output_error,ntk_error,ntk_change",
              result.Observations.Select(o => Row(o.Width, o.Seed, o.Order, o.Time, o.Loss, o.OutputError, o.NtkError, o.NtkChange)));
        Write(paths[1], "width,order,max_output_error,max_ntk_error",
              result.Summary.Select(s => Row(s.Width, s.Order, s.MaxOutputError, s.MaxNtkError)));
        Write(paths[2], "order,metric,width_exponent,r_squared,paper_bound_exponent",
              result.Exponents.Select(e => Row(e.Order, e.Metric, e.Exponent, e.RSquared, -e.Order / 2.0)));
        Write(paths[3], "width,seed,parameters,kernel_seconds,dynamics_seconds",
              result.Timings.Select(t => Row(t.Width, t.Seed, t.Parameters, t.KernelSeconds, t.DynamicsSeconds)));
        return paths;
    }

    private static void Write(string path, string header, IEnumerable<string> rows)
    {
        var text = new StringBuilder(header).Append('\n');
        foreach (var row in rows) text.Append(row).Append('\n');
        File.WriteAllText(path, text.ToString());
    }

    private static string Row(params object[] values) =>
        string.Join(",", values.Select(v => v switch
        {
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString(),
        }));
}
