using System.Globalization;

namespace GpuNtk.Networks;

/// <summary>
/// An architecture as a string users can type, e.g. <c>fcn:depth=2,width=512,act=relu,param=ntk,in=3072,out=10</c>.
/// <see cref="Parse"/> accepts any subset of keys (the rest take defaults); <see cref="ToString"/> prints every key
/// in a fixed order, and parsing that string gives back an equal record.
/// </summary>
public abstract record ArchitectureSpec
{
    /// <summary>The kind before the colon: fcn, cnn or wrn.</summary>
    public abstract string Kind { get; }
    public abstract Activation Activation { get; init; }
    public abstract Parameterization Parameterization { get; init; }
    /// <summary>Weight standard deviation σ_w (NTK parameterization).</summary>
    public abstract double WStd { get; init; }
    /// <summary>Bias standard deviation σ_b (NTK parameterization).</summary>
    public abstract double BStd { get; init; }
    /// <summary>Number of input features (flattened).</summary>
    public abstract long InputSize { get; }
    public abstract long Outputs { get; init; }

    /// <summary>
    /// Every key and its canonical value, in print order; a null value (an optional key at its default) is not printed,
    /// so older spec strings stay as they were. The keys are also the valid keys parsing accepts.
    /// </summary>
    protected abstract IEnumerable<(string Key, string? Value)> Fields();

    public sealed override string ToString() =>
        Kind + ":" + string.Join(",", Fields().Where(f => f.Value is not null).Select(f => $"{f.Key}={f.Value}"));

    /// <summary>Parses a spec string; errors name the offending key and list the valid ones.</summary>
    public static ArchitectureSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        int colon = trimmed.IndexOf(':');
        string kind = (colon < 0 ? trimmed : trimmed[..colon]).Trim().ToLowerInvariant();
        var values = SpecFields.Split(colon < 0 ? "" : trimmed[(colon + 1)..], text);
        ArchitectureSpec spec = kind switch
        {
            "fcn" => FcnSpec.FromFields(values),
            "cnn" => CnnSpec.FromFields(values),
            "wrn" or "wideresnet" => WideResNetSpec.FromFields(values),
            _ => throw new FormatException($"architecture '{text}': unknown kind '{kind}'; use fcn, cnn or wrn " +
                                           "(e.g. fcn:depth=2,width=512,act=relu,param=ntk)"),
        };
        values.ThrowIfUnused(spec.Kind, spec.Fields().Select(f => f.Key));
        spec.Validate();
        return spec;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when a value is out of range.</summary>
    public abstract void Validate();

    protected static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Default σ_w: √2 keeps ReLU/GELU pre-activation variance constant with depth, 1 otherwise.</summary>
    protected static double DefaultWStd(Activation a) => a is Activation.Relu or Activation.Gelu ? Math.Sqrt(2) : 1.0;

    protected void ValidateCommon()
    {
        if (!(WStd > 0) || double.IsInfinity(WStd)) throw new ArgumentException($"{this}: wstd must be positive and finite");
        if (!(BStd >= 0) || double.IsInfinity(BStd)) throw new ArgumentException($"{this}: bstd must be ≥ 0 and finite");
        if (Outputs < 1) throw new ArgumentException($"{this}: out must be ≥ 1");
    }
}

/// <summary>The key=value pairs of a spec string, tracking which keys were consumed.</summary>
internal sealed class SpecFields
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _used = [];
    private readonly string _text;

    private SpecFields(Dictionary<string, string> values, string text)
    {
        _values = values;
        _text = text;
    }

    public static SpecFields Split(string body, string text)
    {
        var values = new Dictionary<string, string>();
        foreach (var part in body.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"architecture '{text}': '{part}' is not key=value");
            string key = part[..eq].Trim().ToLowerInvariant();
            if (!values.TryAdd(key, part[(eq + 1)..].Trim()))
                throw new FormatException($"architecture '{text}': key '{key}' given twice");
        }
        return new SpecFields(values, text);
    }

    public string? Raw(string key)
    {
        if (!_values.TryGetValue(key, out var v)) return null;
        _used.Add(key);
        return v;
    }

    public long Long(string key, long fallback)
    {
        var v = Raw(key);
        if (v is null) return fallback;
        return long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var r)
            ? r : throw new FormatException($"architecture '{_text}': {key}={v} is not an integer");
    }

    public double Double(string key, double fallback)
    {
        var v = Raw(key);
        if (v is null) return fallback;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var r)
            ? r : throw new FormatException($"architecture '{_text}': {key}={v} is not a number");
    }

    /// <summary>The value of <paramref name="key"/> among named <paramref name="choices"/> (case-insensitive), or <paramref name="fallback"/>.</summary>
    public T Choice<T>(string key, T fallback, params (string Name, T Value)[] choices)
    {
        var v = Raw(key);
        if (v is null) return fallback;
        foreach (var (name, value) in choices)
            if (string.Equals(name, v, StringComparison.OrdinalIgnoreCase)) return value;
        throw new FormatException($"architecture '{_text}': {key}={v} is not one of {string.Join(", ", choices.Select(c => c.Name))}");
    }

    public Activation Activation(string key, Activation fallback)
    {
        var v = Raw(key);
        try { return v is null ? fallback : ActivationNames.Parse(v); }
        catch (FormatException e) { throw new FormatException($"architecture '{_text}': {e.Message}"); }
    }

    public Parameterization Parameterization(string key, Parameterization fallback)
    {
        var v = Raw(key);
        try { return v is null ? fallback : ParameterizationNames.Parse(v); }
        catch (FormatException e) { throw new FormatException($"architecture '{_text}': {e.Message}"); }
    }

    public void ThrowIfUnused(string kind, IEnumerable<string> validKeys)
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count == 0) return;
        var valid = string.Join(", ", validKeys);
        throw new FormatException($"architecture '{_text}': unknown key(s) {string.Join(", ", unknown)} for {kind}; valid keys: {valid}");
    }
}
