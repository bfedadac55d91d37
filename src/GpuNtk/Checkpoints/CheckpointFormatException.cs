namespace GpuNtk.Checkpoints;

/// <summary>
/// A checkpoint file is malformed, truncated, unsafe or in a format this library does not read. The message names the
/// file, says what is wrong and, where there is one, how to fix it. Every failure to read a checkpoint's bytes is this
/// type or a subclass; I/O errors opening the file (missing file, no permission) are not. It is a
/// <see cref="FormatException"/> (as malformed .npy files are), so callers that report bad input files report these too.
/// </summary>
public class CheckpointFormatException : FormatException
{
    public CheckpointFormatException(string message) : base(message) { }

    public CheckpointFormatException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>
/// The pickle in a PyTorch file refers to a Python global outside the allow-list (a class of a pickled module, a
/// function such as <c>os.system</c>). Nothing was executed; <see cref="GlobalName"/> is the refused name.
/// </summary>
public sealed class UnsafeCheckpointException(string message, string globalName) : CheckpointFormatException(message)
{
    /// <summary>The refused global as <c>module.name</c>.</summary>
    public string GlobalName { get; } = globalName;
}

/// <summary>A PyTorch file in the pre-1.6 format (raw pickle stream or tar), which is not supported.</summary>
public sealed class LegacyCheckpointException(string message) : CheckpointFormatException(message);
