using System.Globalization;

namespace GpuNtk.Training;

/// <summary>The shape of a learning-rate schedule.</summary>
public enum ScheduleKind
{
    Constant,
    /// <summary>Linear warmup from η/W to η over the first W steps, then constant.</summary>
    Warmup,
    /// <summary>Optional linear warmup, then η·(1 + cos(π·progress))/2 down to 0 at the last step.</summary>
    Cosine,
    /// <summary>η·factor^⌊step/every⌋.</summary>
    Step,
}

/// <summary>
/// The multiplier of the base learning rate at each step. Text forms (<see cref="Parse"/>): <c>constant</c>,
/// <c>warmup:S</c>, <c>cosine</c>, <c>cosine:warmup=S</c>, <c>step:every=S,factor=F</c>. A pure function of the step
/// and the run length, so a resumed run follows the same schedule without saving anything.
/// </summary>
public sealed record LearningRateSchedule(ScheduleKind Kind, long WarmupSteps = 0, long Every = 0, double Factor = 1)
{
    public static LearningRateSchedule Constant { get; } = new(ScheduleKind.Constant);

    /// <summary>The multiplier for the step taken from <paramref name="step"/> to step + 1 of a run of <paramref name="totalSteps"/>.</summary>
    public double At(long step, long totalSteps)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return (step + 1.0) / WarmupSteps;
        return Kind switch
        {
            ScheduleKind.Cosine => 0.5 * (1 + Math.Cos(Math.PI * (step - WarmupSteps) / Math.Max(1, totalSteps - WarmupSteps))),
            ScheduleKind.Step => Math.Pow(Factor, step / Every),
            _ => 1,
        };
    }

    public static LearningRateSchedule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        int colon = t.IndexOf(':');
        var kind = colon < 0 ? t : t[..colon];
        var args = (colon < 0 ? "" : t[(colon + 1)..]).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string Error(string why) => $"Schedule '{text}': {why}; use constant, warmup:S, cosine, cosine:warmup=S or step:every=S,factor=F";
        long Steps(string value) => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 1 ? v : throw new ArgumentException(Error($"'{value}' is not a step count ≥ 1"));
        var named = args.Where(a => a.Contains('=')).ToDictionary(a => a[..a.IndexOf('=')], a => a[(a.IndexOf('=') + 1)..]);
        return kind switch
        {
            "constant" when args.Length == 0 => Constant,
            "warmup" when args.Length == 1 => new(ScheduleKind.Warmup, WarmupSteps: Steps(named.GetValueOrDefault("steps", args[0]))),
            "cosine" when args.Length == named.Count && named.Keys.All(k => k == "warmup") =>
                new(ScheduleKind.Cosine, WarmupSteps: named.TryGetValue("warmup", out var w) ? Steps(w) : 0),
            "step" when named.Count == 2 && named.ContainsKey("every") && named.ContainsKey("factor") =>
                new(ScheduleKind.Step, Every: Steps(named["every"]),
                    Factor: double.TryParse(named["factor"], NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0
                        ? f : throw new ArgumentException(Error($"factor {named["factor"]} is not a positive number"))),
            _ => throw new ArgumentException(Error("not understood")),
        };
    }
}
