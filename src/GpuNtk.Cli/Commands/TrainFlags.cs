using System.Text.RegularExpressions;

namespace GpuNtk.Cli.Commands;

/// <summary>
/// The library names its options (TrainConfig properties, "resume"); <c>gpuntk train</c> users know flags. This maps
/// the one onto the other in error messages and summaries, in one place.
/// </summary>
internal static partial class TrainFlags
{
    private static readonly (string Option, string Flag)[] s_names =
    [
        ("LearningRateFraction", "--lr"), ("LearningRate", "--lr"), ("Momentum", "--momentum"), ("BatchSize", "--batch"), ("Steps", "--steps"),
        ("LogEvery", "--log-every"), ("ProbeTrain", "--probe"), ("NtkProbe", "--ntk-probe"), ("CheckpointEvery", "--checkpoint-every"),
        ("DType", "--dtype"), ("FlowStep", "--flow-step"), ("ExplosionFactor", "--explode"), ("WeightDecay", "--weight-decay"),
        ("Schedule", "--schedule"), ("ClipNorm", "--clip"), ("Augment", "--augment"), ("Optimizer", "--optimizer"), ("InitFrom", "--init-from"),
        ("Arch", "--arch"), ("Linearize = false", "--no-linearize"),
    ];

    /// <summary>The message with library option names replaced by the flags.</summary>
    public static string Translate(string message)
    {
        foreach (var (option, flag) in s_names) message = Regex.Replace(message, $@"\b{Regex.Escape(option)}\b", flag);
        return ResumeWord().Replace(message, "--resume");
    }

    /// <summary>Runs <paramref name="action"/>, rethrowing argument errors with flag names.</summary>
    public static T Translating<T>(Func<T> action)
    {
        try { return action(); }
        catch (ArgumentException e) { throw new ArgumentException(Translate(e.Message), e); }
    }

    [GeneratedRegex(@"\bresume(?= (to continue|it|from it))")]
    private static partial Regex ResumeWord();
}
