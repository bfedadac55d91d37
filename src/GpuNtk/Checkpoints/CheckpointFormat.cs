using System.Buffers.Binary;
using System.Text;

namespace GpuNtk.Checkpoints;

/// <summary>The file formats recognised by their first bytes.</summary>
public enum CheckpointFormat
{
    /// <summary>Not recognised.</summary>
    Unknown,

    /// <summary><c>torch.save</c> zip archive (PyTorch ≥ 1.6), usually <c>.pt</c>/<c>.pth</c>/<c>.bin</c>.</summary>
    TorchZip,

    /// <summary><c>torch.save</c> before PyTorch 1.6 (raw pickle stream or tar): recognised only to explain how to convert it.</summary>
    TorchLegacy,

    /// <summary>safetensors: u64 little-endian header length, JSON header, data.</summary>
    SafeTensors,
}

public static class CheckpointFormats
{
    /// <summary>Bytes <see cref="Detect(ReadOnlySpan{byte}, long)"/> looks at.</summary>
    public const int HeadLength = 512;

    /// <summary>Recognises a format from the file's first bytes (up to <see cref="HeadLength"/>) and its length.</summary>
    public static CheckpointFormat Detect(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] is 3 or 5 or 7 && head[3] is 4 or 6 or 8)
            return CheckpointFormat.TorchZip;
        if (head.Length >= 2 && head[0] == 0x80 && head[1] <= 5)
            return CheckpointFormat.TorchLegacy; // a bare pickle stream: torch.save's legacy format starts with a pickled magic number
        if (head.Length >= 262 && Encoding.ASCII.GetString(head.Slice(257, 5)) == "ustar")
            return CheckpointFormat.TorchLegacy; // the tar format of PyTorch ≤ 0.3
        if (head.Length >= 9 && head[8] == '{')
        {
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(head);
            if (n >= 2 && n <= (ulong)Math.Max(0, fileLength - 8)) return CheckpointFormat.SafeTensors;
        }
        return CheckpointFormat.Unknown;
    }

    /// <summary>Recognises the format of the stream's content from its current position, which it restores.</summary>
    public static CheckpointFormat Detect(Stream stream)
    {
        long start = stream.Position;
        var head = new byte[HeadLength];
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        return Detect(head.AsSpan(0, n), stream.Length - start);
    }

    /// <summary>The format a file name's extension suggests for writing: <c>.safetensors</c> or a PyTorch file.</summary>
    public static CheckpointFormat FromExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".safetensors" => CheckpointFormat.SafeTensors,
        ".pt" or ".pth" or ".bin" or ".ckpt" or ".tar" => CheckpointFormat.TorchZip,
        _ => CheckpointFormat.Unknown,
    };

    internal static LegacyCheckpointException LegacyError(string source) => new(
        $"{source}: written in the legacy torch.save format (PyTorch < 1.6, or _use_new_zipfile_serialization=False), " +
        "which is not read here. Remedy: if you trust the file, re-save it with PyTorch ≥ 1.6: " +
        "torch.save(torch.load(old_path), new_path) (or save it as safetensors) and load the new file.");
}
