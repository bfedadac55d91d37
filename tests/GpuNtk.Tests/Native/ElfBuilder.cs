using System.Buffers.Binary;
using System.Text;

namespace GpuNtk.Tests.Native;

/// <summary>
/// Builds small ELF64 little-endian images with .dynstr, .dynsym, .gnu.version and .gnu.version_r sections, so the
/// patch logic can be tested on layouts that real libraries do and do not have.
/// </summary>
internal sealed class ElfBuilder
{
    private readonly List<(string File, List<(string Version, ushort Flags, ushort Index)> Versions)> _needs = [];
    private readonly List<(string Name, ushort VersionIndex)> _symbols = [];

    public ElfBuilder Need(string file, params (string Version, ushort Flags, ushort Index)[] versions)
    {
        _needs.Add((file, versions.ToList()));
        return this;
    }

    public ElfBuilder Symbol(string name, ushort versionIndex)
    {
        _symbols.Add((name, versionIndex));
        return this;
    }

    public byte[] Build()
    {
        var strtab = new MemoryStream();
        strtab.WriteByte(0);
        int Str(string s)
        {
            int off = (int)strtab.Position;
            var b = Encoding.ASCII.GetBytes(s);
            strtab.Write(b);
            strtab.WriteByte(0);
            return off;
        }

        // .dynsym: null symbol + ours (24 bytes each); .gnu.version: one u16 each.
        var dynsym = new byte[24 * (_symbols.Count + 1)];
        var versym = new byte[2 * (_symbols.Count + 1)];
        for (int i = 0; i < _symbols.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(dynsym.AsSpan(24 * (i + 1)), (uint)Str(_symbols[i].Name));
            BinaryPrimitives.WriteUInt16LittleEndian(versym.AsSpan(2 * (i + 1)), _symbols[i].VersionIndex);
        }

        // .gnu.version_r: Verneed entries each followed by their Vernaux entries.
        var verneed = new MemoryStream();
        for (int n = 0; n < _needs.Count; n++)
        {
            var (file, versions) = _needs[n];
            var e = new byte[16 + 16 * versions.Count];
            BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(0), 1);
            BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), (ushort)versions.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), (uint)Str(file));
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(8), 16);
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(12), n + 1 < _needs.Count ? (uint)e.Length : 0);
            for (int a = 0; a < versions.Count; a++)
            {
                int o = 16 + 16 * a;
                BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(o + 4), versions[a].Flags);
                BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(o + 6), versions[a].Index);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(o + 8), (uint)Str(versions[a].Version));
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(o + 12), a + 1 < versions.Count ? 16u : 0u);
            }
            verneed.Write(e);
        }

        var dynstr = strtab.ToArray();
        // Layout: header (64) | dynstr | dynsym | versym | verneed | section headers (5 × 64).
        var blobs = new[] { dynstr, dynsym, versym, verneed.ToArray() };
        var offsets = new long[4];
        long pos = 64;
        for (int i = 0; i < 4; i++)
        {
            pos = (pos + 7) & ~7L;
            offsets[i] = pos;
            pos += blobs[i].Length;
        }
        long shoff = (pos + 7) & ~7L;
        var image = new byte[shoff + 5 * 64];
        image[0] = 0x7f; image[1] = (byte)'E'; image[2] = (byte)'L'; image[3] = (byte)'F';
        image[4] = 2; image[5] = 1; image[6] = 1;
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(0x28), (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x3A), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x3C), 5);
        for (int i = 0; i < 4; i++) blobs[i].CopyTo(image, offsets[i]);

        void Section(int index, uint type, int blob, uint link, uint info, ulong entsize)
        {
            int o = (int)shoff + 64 * index;
            BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(o + 4), type);
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(o + 24), (ulong)offsets[blob]);
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(o + 32), (ulong)blobs[blob].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(o + 40), link);
            BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(o + 44), info);
            BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(o + 56), entsize);
        }
        Section(1, 3, 0, 0, 0, 0);                                   // .dynstr (SHT_STRTAB)
        Section(2, 11, 1, 1, 1, 24);                                 // .dynsym
        Section(3, 0x6fffffff, 2, 2, 0, 2);                          // .gnu.version
        Section(4, 0x6ffffffe, 3, 1, (uint)_needs.Count, 0);         // .gnu.version_r
        return image;
    }

    /// <summary>The layout of TorchSharp 0.107's shim: GLIBCXX_3.4.32 used only by ios_base_library_init.</summary>
    public static ElfBuilder LikeLibTorchSharp() => new ElfBuilder()
        .Need("libstdc++.so.6", ("GLIBCXX_3.4", 0, 2), ("GLIBCXX_3.4.32", 0, 3))
        .Need("libc.so.6", ("GLIBC_2.2.5", 0, 4))
        .Symbol("_ZNSt8ios_base4InitC1Ev", 2)
        .Symbol("_ZSt21ios_base_library_initv", 3)
        .Symbol("malloc", 4);
}
