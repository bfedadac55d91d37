using System.CommandLine;
using GpuNtk.Data;

namespace GpuNtk.Cli;

/// <summary>The options of <c>--data npy</c>: the <c>.npy</c> files of inputs and labels, optionally a test pair.</summary>
internal sealed class NpyDataOptions
{
    public Option<string?> Inputs { get; } = new("--inputs") { Description = "--data npy: inputs X.npy, [N, …] of any shape (one example per row)." };
    public Option<string?> Labels { get; } = new("--labels") { Description = "--data npy: labels y.npy, [N] integer classes or [N]/[N, O] float regression targets." };
    public Option<string?> TestInputs { get; } = new("--test-inputs") { Description = "--data npy: test inputs (default: a seeded hold-out of --test-size examples, one fifth when 0)." };
    public Option<string?> TestLabels { get; } = new("--test-labels") { Description = "--data npy: test labels, with --test-inputs." };

    public IEnumerable<Option> All => [Inputs, Labels, TestInputs, TestLabels];

    /// <summary>The files for <see cref="DataSource.Npy"/>; null for other sources (where giving them is an error).</summary>
    public NpyDataFiles? Read(ParseResult parse, DataSource source)
    {
        var (x, y, tx, ty) = (parse.GetValue(Inputs), parse.GetValue(Labels), parse.GetValue(TestInputs), parse.GetValue(TestLabels));
        if (source != DataSource.Npy)
        {
            if (x is not null || y is not null || tx is not null || ty is not null)
                throw new ArgumentException("--inputs/--labels/--test-inputs/--test-labels are for --data npy; add --data npy or drop them");
            return null;
        }
        if (x is null || y is null) throw new ArgumentException("--data npy needs --inputs X.npy and --labels y.npy");
        if ((tx is null) != (ty is null)) throw new ArgumentException("--test-inputs and --test-labels go together: give both or neither");
        return new NpyDataFiles(x, y, tx, ty);
    }
}
