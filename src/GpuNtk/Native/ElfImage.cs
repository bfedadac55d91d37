using System.Buffers.Binary;
using System.Text;

namespace GpuNtk.Native;

/// <summary>
/// A minimal, read-mostly view of a 64-bit little-endian ELF shared object: just enough of the section headers,
/// the dynamic symbol table and the GNU symbol-versioning sections (<c>.gnu.version</c>, <c>.gnu.version_r</c>,
/// <c>.gnu.version_d</c>) to reason about which library versions an object needs and provides.
/// Every offset read is bounds-checked: a malformed file gives an <see cref="ElfFormatException"/>, never a crash.
/// </summary>
public sealed class ElfImage
{
    internal const uint ShtDynsym = 11;
    internal const uint ShtGnuVerdef = 0x6ffffffd;
    internal const uint ShtGnuVerneed = 0x6ffffffe;
    internal const uint ShtGnuVersym = 0x6fffffff;
    /// <summary>VER_FLG_WEAK: a missing version is reported, not fatal, by the dynamic loader.</summary>
    public const ushort VerFlagWeak = 0x2;

    private readonly byte[] _bytes;
    private readonly List<Section> _sections;

    private ElfImage(byte[] bytes, List<Section> sections)
    {
        _bytes = bytes;
        _sections = sections;
    }

    /// <summary>The image's bytes (patches write into this array).</summary>
    public byte[] Bytes => _bytes;

    /// <summary>Parses the header and section table of an ELF64 little-endian image.</summary>
    public static ElfImage Parse(byte[] bytes)
    {
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new ElfFormatException("not an ELF file (bad magic)");
        if (bytes[4] != 2) throw new ElfFormatException("not a 64-bit ELF file (EI_CLASS != ELFCLASS64)");
        if (bytes[5] != 1) throw new ElfFormatException("not a little-endian ELF file (EI_DATA != ELFDATA2LSB)");

        ulong shoff = ReadU64(bytes, 0x28);
        ushort shentsize = ReadU16(bytes, 0x3A);
        ushort shnum = ReadU16(bytes, 0x3C);
        if (shnum == 0) throw new ElfFormatException("the file has no section headers");
        if (shentsize != 64) throw new ElfFormatException($"unexpected section header size {shentsize} (expected 64)");
        CheckRange(bytes, shoff, (ulong)shnum * 64, "section header table");

        var sections = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            int o = checked((int)shoff + i * 64);
            var s = new Section(
                Index: i,
                Type: ReadU32(bytes, o + 4),
                Offset: ReadU64(bytes, o + 24),
                Size: ReadU64(bytes, o + 32),
                Link: ReadU32(bytes, o + 40),
                Info: ReadU32(bytes, o + 44),
                EntrySize: ReadU64(bytes, o + 56));
            if (s.Type != 8 /* SHT_NOBITS */) CheckRange(bytes, s.Offset, s.Size, $"section {i}");
            sections.Add(s);
        }
        return new ElfImage(bytes, sections);
    }

    /// <summary>Every version requirement (<c>.gnu.version_r</c>): which file, which version name, its flags.</summary>
    public IReadOnlyList<VersionNeed> VersionNeeds()
    {
        var result = new List<VersionNeed>();
        var sec = FindSingle(ShtGnuVerneed);
        if (sec is null) return result;
        var strtab = SectionAt(sec.Link, "string table of .gnu.version_r");
        ulong pos = sec.Offset;
        ulong end = sec.Offset + sec.Size;
        for (uint n = 0; n < sec.Info; n++)
        {
            CheckWithin(pos, 16, end, "Elf64_Verneed");
            ushort cnt = ReadU16(_bytes, (int)pos + 2);
            string file = ReadString(strtab, ReadU32(_bytes, (int)pos + 4));
            uint aux = ReadU32(_bytes, (int)pos + 8);
            uint next = ReadU32(_bytes, (int)pos + 12);
            ulong apos = pos + aux;
            for (int a = 0; a < cnt; a++)
            {
                CheckWithin(apos, 16, end, "Elf64_Vernaux");
                ushort flags = ReadU16(_bytes, (int)apos + 4);
                ushort other = ReadU16(_bytes, (int)apos + 6);
                string name = ReadString(strtab, ReadU32(_bytes, (int)apos + 8));
                result.Add(new VersionNeed(file, name, flags, other, (int)apos + 4));
                uint anext = ReadU32(_bytes, (int)apos + 12);
                if (anext == 0) break;
                apos += anext;
            }
            if (next == 0) break;
            pos += next;
        }
        return result;
    }

    /// <summary>Every version this object defines (<c>.gnu.version_d</c>), e.g. GLIBCXX_3.4.30 for libstdc++.</summary>
    public IReadOnlyList<string> VersionDefinitions()
    {
        var result = new List<string>();
        var sec = FindSingle(ShtGnuVerdef);
        if (sec is null) return result;
        var strtab = SectionAt(sec.Link, "string table of .gnu.version_d");
        ulong pos = sec.Offset;
        ulong end = sec.Offset + sec.Size;
        for (uint n = 0; n < sec.Info; n++)
        {
            CheckWithin(pos, 20, end, "Elf64_Verdef");
            uint aux = ReadU32(_bytes, (int)pos + 12);
            uint next = ReadU32(_bytes, (int)pos + 16);
            CheckWithin(pos + aux, 8, end, "Elf64_Verdaux");
            result.Add(ReadString(strtab, ReadU32(_bytes, (int)(pos + aux))));
            if (next == 0) break;
            pos += next;
        }
        return result;
    }

    /// <summary>Names of the dynamic symbols whose version index (in <c>.gnu.version</c>) is <paramref name="versionIndex"/>.</summary>
    public IReadOnlyList<string> SymbolsWithVersionIndex(ushort versionIndex)
    {
        var dynsym = FindSingle(ShtDynsym) ?? throw new ElfFormatException("no .dynsym section");
        var versym = FindSingle(ShtGnuVersym) ?? throw new ElfFormatException("no .gnu.version section");
        if (dynsym.EntrySize != 24) throw new ElfFormatException($"unexpected .dynsym entry size {dynsym.EntrySize}");
        ulong count = dynsym.Size / 24;
        if (versym.Size < count * 2) throw new ElfFormatException(".gnu.version is shorter than .dynsym");
        var strtab = SectionAt(dynsym.Link, "string table of .dynsym");
        var names = new List<string>();
        for (ulong i = 0; i < count; i++)
        {
            ushort v = (ushort)(ReadU16(_bytes, (int)(versym.Offset + 2 * i)) & 0x7fff);
            if (v != versionIndex) continue;
            names.Add(ReadString(strtab, ReadU32(_bytes, (int)(dynsym.Offset + 24 * i))));
        }
        return names;
    }

    internal void WriteU16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(offset, 2), value);

    private Section? FindSingle(uint type)
    {
        Section? found = null;
        foreach (var s in _sections)
        {
            if (s.Type != type) continue;
            if (found is not null) throw new ElfFormatException($"more than one section of type 0x{type:x}");
            found = s;
        }
        return found;
    }

    private Section SectionAt(uint index, string what) =>
        index < _sections.Count ? _sections[(int)index] : throw new ElfFormatException($"{what}: section index {index} out of range");

    private string ReadString(Section strtab, uint offset)
    {
        if (offset >= strtab.Size) throw new ElfFormatException($"string offset {offset} outside its table");
        int start = (int)(strtab.Offset + offset);
        int limit = (int)(strtab.Offset + strtab.Size);
        int end = Array.IndexOf(_bytes, (byte)0, start, limit - start);
        if (end < 0) throw new ElfFormatException("unterminated string in string table");
        return Encoding.ASCII.GetString(_bytes, start, end - start);
    }

    private static void CheckRange(byte[] bytes, ulong offset, ulong size, string what)
    {
        if (offset > (ulong)bytes.Length || size > (ulong)bytes.Length - offset)
            throw new ElfFormatException($"{what} lies outside the file (offset {offset}, size {size}, file {bytes.Length} bytes)");
    }

    private static void CheckWithin(ulong pos, ulong size, ulong end, string what)
    {
        if (pos + size > end || pos + size < pos) throw new ElfFormatException($"{what} runs past the end of its section");
    }

    private static ushort ReadU16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o, 2));
    private static uint ReadU32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o, 4));
    private static ulong ReadU64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o, 8));

    private sealed record Section(int Index, uint Type, ulong Offset, ulong Size, uint Link, uint Info, ulong EntrySize);
}

/// <summary>One <c>Elf64_Vernaux</c> entry: the object needs <paramref name="Version"/> from <paramref name="File"/>.</summary>
/// <param name="FlagsOffset">Byte offset of <c>vna_flags</c> in the image, where a patch writes.</param>
public sealed record VersionNeed(string File, string Version, ushort Flags, ushort VersionIndex, int FlagsOffset)
{
    public bool IsWeak => (Flags & ElfImage.VerFlagWeak) != 0;
}

/// <summary>The bytes are not an ELF image of the expected kind, or are malformed.</summary>
public sealed class ElfFormatException(string message) : Exception(message);
