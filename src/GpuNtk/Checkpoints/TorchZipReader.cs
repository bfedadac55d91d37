using System.IO.Compression;
using System.Text;

namespace GpuNtk.Checkpoints;

/// <summary>
/// The records of a <c>torch.save</c> zip archive (PyTorch ≥ 1.6): one top-level folder holding <c>data.pkl</c>,
/// <c>data/&lt;key&gt;</c> storages, <c>version</c> and, since PyTorch 2.1, <c>byteorder</c>. Every record's size is
/// checked against the archive before anything is allocated, and its CRC-32 after it is read.
/// </summary>
internal sealed class TorchZipReader : IDisposable
{
    /// <summary>Largest small record (data.pkl, version, byteorder) read into memory.</summary>
    public const long MaxPickleBytes = 1L << 30;

    /// <summary>Deflate cannot compress better than about 1032:1; a larger declared ratio is a lie.</summary>
    private const long MaxCompressionRatio = 1100;

    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _entries = new(StringComparer.Ordinal);
    private readonly long _archiveLength;

    public TorchZipReader(Stream stream, string source)
    {
        Source = source;
        _archiveLength = stream.Length;
        try
        {
            _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            foreach (var e in _zip.Entries) _entries.TryAdd(e.FullName, e);
        }
        catch (Exception e) when (IsZipFailure(e))
        {
            throw new CheckpointFormatException(
                $"{source}: not a readable zip archive ({e.Message}). The file is truncated or corrupt: " +
                "download or save it again.", e);
        }
        Prefix = FindPrefix();
        if (_entries.ContainsKey(Prefix + "constants.pkl") || _entries.Keys.Any(k => k.StartsWith(Prefix + "code/", StringComparison.Ordinal)))
            throw new CheckpointFormatException(
                $"{source}: this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint. " +
                "In Python, save the weights with torch.save(model.state_dict(), path) and load that file.");
        Version = ReadVersion();
        BigEndian = ReadByteOrder();
    }

    /// <summary>The file name (or other label) used in messages.</summary>
    public string Source { get; }

    /// <summary>The top-level folder with its trailing slash, e.g. <c>model/</c>.</summary>
    public string Prefix { get; }

    public long Version { get; }

    /// <summary>True when the <c>byteorder</c> record says <c>big</c>; files without the record are little-endian.</summary>
    public bool BigEndian { get; }

    public bool HasRecord(string name) => _entries.ContainsKey(Prefix + name);

    /// <summary>Reads a whole small record (at most <paramref name="maxBytes"/>).</summary>
    public byte[] ReadRecord(string name, long maxBytes = MaxPickleBytes)
    {
        var entry = Entry(name);
        if (entry.Length > maxBytes)
            throw Error($"record '{entry.FullName}' declares {entry.Length} bytes, more than the {maxBytes} allowed for it");
        var bytes = new byte[entry.Length];
        using (var stream = OpenRecord(name)) Fill(stream, bytes, entry.FullName);
        return bytes;
    }

    /// <summary>The length of record <paramref name="name"/>, checked to be plausible for the archive's size.</summary>
    public long RecordLength(string name) => Entry(name).Length;

    /// <summary>
    /// Opens record <paramref name="name"/>; reading it to the end verifies its CRC-32. Errors while reading surface as
    /// <see cref="CheckpointFormatException"/>.
    /// </summary>
    public Stream OpenRecord(string name)
    {
        var entry = Entry(name);
        if (entry.Length == 0 && entry.Crc32 != 0)
            throw Error($"record '{entry.FullName}' is empty but its CRC-32 is {entry.Crc32:x8}: the file is corrupt");
        try
        {
            return new CheckedRecordStream(entry.Open(), entry, this);
        }
        catch (Exception e) when (IsZipFailure(e))
        {
            throw Error($"record '{entry.FullName}' cannot be opened ({e.Message}); the archive is corrupt", e);
        }
    }

    public CheckpointFormatException Error(string what, Exception? inner = null) =>
        new($"{Source}: {what}. Remedy: save the file again with torch.save (PyTorch ≥ 1.6) or download it again.", inner);

    public void Dispose() => _zip.Dispose();

    /// <summary>Exceptions the zip library raises on malformed archives (rather than on programming errors).</summary>
    internal static bool IsZipFailure(Exception e) =>
        e is InvalidDataException or IOException or NotSupportedException or ArgumentException or OverflowException
            or IndexOutOfRangeException or FormatException or DecoderFallbackException;

    private ZipArchiveEntry Entry(string name)
    {
        if (!_entries.TryGetValue(Prefix + name, out var entry))
            throw Error($"record '{Prefix}{name}' is missing");
        if (entry.Length < 0 || entry.CompressedLength < 0 || entry.CompressedLength > _archiveLength ||
            entry.Length > entry.CompressedLength * MaxCompressionRatio + 1024)
            throw Error($"record '{entry.FullName}' declares an impossible size ({entry.Length} bytes from " +
                        $"{entry.CompressedLength} stored in a {_archiveLength}-byte file)");
        return entry;
    }

    private string FindPrefix()
    {
        var pickles = _entries.Keys.Where(k => k.EndsWith("/data.pkl", StringComparison.Ordinal) && k.IndexOf('/') == k.Length - 9).ToList();
        if (pickles.Count == 0)
        {
            string sample = string.Join(", ", _entries.Keys.Take(5));
            throw new CheckpointFormatException(
                $"{Source}: zip archive without a '<folder>/data.pkl' record (it has: {(sample.Length == 0 ? "no entries" : sample)}); " +
                "this is not a torch.save checkpoint. Save the weights with torch.save(model.state_dict(), path).");
        }
        if (pickles.Count > 1)
            throw Error($"several top-level folders hold a data.pkl ({string.Join(", ", pickles)})");
        return pickles[0][..^"data.pkl".Length];
    }

    private long ReadVersion()
    {
        string name = HasRecord("version") ? "version" : HasRecord(".data/version") ? ".data/version" : "";
        if (name.Length == 0) throw Error($"record '{Prefix}version' is missing");
        string text = Encoding.ASCII.GetString(ReadRecord(name, 64)).Trim();
        if (!long.TryParse(text, out long v) || v < 1)
            throw Error($"record '{Prefix}{name}' holds '{text}', not a format version number");
        return v;
    }

    private bool ReadByteOrder()
    {
        if (!HasRecord("byteorder")) return false;
        string text = Encoding.ASCII.GetString(ReadRecord("byteorder", 64)).Trim();
        return text switch
        {
            "little" => false,
            "big" => true,
            _ => throw Error($"record '{Prefix}byteorder' holds '{text}'; expected 'little' or 'big'"),
        };
    }

    private void Fill(Stream stream, byte[] buffer, string record)
    {
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException e) { throw Error($"record '{record}' is truncated", e); }
    }

    /// <summary>Reads a record, turning zip-library failures into format errors and checking the CRC at the end.</summary>
    private sealed class CheckedRecordStream(Stream inner, ZipArchiveEntry entry, TorchZipReader owner) : Stream
    {
        private readonly Crc32 _crc = new();
        private long _position;
        private bool _checked;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            long limit = entry.Length;
            if (_position >= limit || buffer.Length == 0) return 0;
            if (buffer.Length > limit - _position) buffer = buffer[..(int)(limit - _position)];
            int n;
            try { n = inner.Read(buffer); }
            catch (Exception e) when (IsZipFailure(e))
            {
                throw owner.Error($"record '{entry.FullName}' cannot be read ({e.Message}); the archive is corrupt", e);
            }
            if (n == 0)
                throw owner.Error($"record '{entry.FullName}' is truncated: {_position} of {entry.Length} bytes present");
            _crc.Append(buffer[..n]);
            _position += n;
            if (_position == entry.Length) VerifyCrc();
            return n;
        }

        private void VerifyCrc()
        {
            if (_checked) return;
            _checked = true;
            if (_crc.Value != entry.Crc32)
                throw owner.Error($"record '{entry.FullName}' fails its CRC-32 check (stored {entry.Crc32:x8}, " +
                                  $"computed {_crc.Value:x8}): the file is corrupt");
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => entry.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
