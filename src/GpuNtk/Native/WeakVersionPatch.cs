namespace GpuNtk.Native;

/// <summary>
/// Marks one version requirement of an ELF image weak (VER_FLG_WEAK), so the dynamic loader tolerates its absence.
/// Used for TorchSharp's <c>libLibTorchSharp.so</c>, built with GCC 13+, whose only use of GLIBCXX_3.4.32 is the
/// unrelocated reference to <c>std::ios_base_library_init</c>: on GCC-12 hosts (Debian 12, Ubuntu 22.04) that one
/// requirement is all that stops it loading. The patch refuses anything but that exact, expected layout.
/// </summary>
public sealed record WeakVersionPatch(string File, string Version, IReadOnlyList<string> AllowedSymbols)
{
    /// <summary>The GCC-13 <c>libstdc++</c> requirement of TorchSharp 0.107's native shim.</summary>
    public static WeakVersionPatch LibStdCxx3432 { get; } =
        new("libstdc++.so.6", "GLIBCXX_3.4.32", ["_ZSt21ios_base_library_initv"]);

    /// <summary>
    /// Applies the patch to <paramref name="image"/> in memory. Returns <see cref="PatchOutcome.AlreadyWeak"/> when
    /// nothing needed changing (idempotent). Throws <see cref="ElfFormatException"/> when the layout is not the
    /// expected one: the version is not required, required twice, or used by symbols other than the allowed ones.
    /// </summary>
    public PatchOutcome Apply(ElfImage image)
    {
        var matches = image.VersionNeeds().Where(n => n.File == File && n.Version == Version).ToList();
        if (matches.Count == 0)
            throw new ElfFormatException($"the image does not require {Version} from {File}; nothing to patch");
        if (matches.Count > 1)
            throw new ElfFormatException($"the image requires {Version} from {File} more than once; refusing to patch");
        var need = matches[0];

        var users = image.SymbolsWithVersionIndex(need.VersionIndex);
        var unexpected = users.Where(s => !AllowedSymbols.Contains(s)).ToList();
        if (unexpected.Count > 0)
            throw new ElfFormatException(
                $"{Version} is used by symbols other than {string.Join(", ", AllowedSymbols)}: " +
                $"{string.Join(", ", unexpected.Take(5))}; weakening it would be unsafe");

        if (need.IsWeak) return PatchOutcome.AlreadyWeak;
        image.WriteU16(need.FlagsOffset, (ushort)(need.Flags | ElfImage.VerFlagWeak));
        return PatchOutcome.Patched;
    }
}

public enum PatchOutcome
{
    Patched,
    AlreadyWeak,
}
