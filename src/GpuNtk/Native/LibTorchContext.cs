using System.Runtime.InteropServices;

namespace GpuNtk.Native;

/// <summary>
/// Process-wide switches of libtorch's <c>at::Context</c> that TorchSharp 0.107 does not expose (oneDNN and NNPACK for
/// CPU convolutions), reached through libtorch_cpu's exported C++ entry points. Only where those exports exist
/// (Itanium C++ ABI: Linux, macOS); elsewhere <see cref="Available"/> is false and setting a switch does nothing.
/// </summary>
public static unsafe class LibTorchContext
{
    private static readonly delegate* unmanaged<nint> s_globalContext;
    private static readonly delegate* unmanaged<nint, byte, void> s_setMkldnn;
    private static readonly delegate* unmanaged<nint, byte> s_getMkldnn;
    private static readonly delegate* unmanaged<nint, byte, void> s_setNnpack;

    static LibTorchContext()
    {
        TorchNative.EnsureLoaded();
        if (!NativeLibrary.TryLoad(OperatingSystem.IsMacOS() ? "libtorch_cpu.dylib" : "libtorch_cpu.so", out var lib)) return;
        if (NativeLibrary.TryGetExport(lib, "_ZN2at13globalContextEv", out var context)
            && NativeLibrary.TryGetExport(lib, "_ZN2at7Context20setUserEnabledMkldnnEb", out var setMkldnn)
            && NativeLibrary.TryGetExport(lib, "_ZNK2at7Context17userEnabledMkldnnEv", out var getMkldnn)
            && NativeLibrary.TryGetExport(lib, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setNnpack))
        {
            s_globalContext = (delegate* unmanaged<nint>)context;
            s_setMkldnn = (delegate* unmanaged<nint, byte, void>)setMkldnn;
            s_getMkldnn = (delegate* unmanaged<nint, byte>)getMkldnn;
            s_setNnpack = (delegate* unmanaged<nint, byte, void>)setNnpack;
        }
    }

    /// <summary>True when the switches can be read and set in this process.</summary>
    public static bool Available => s_globalContext != null;

    /// <summary>
    /// Whether CPU operators may use oneDNN (mkldnn). libtorch 2.10's oneDNN 3.7.1 computes wrong float32 convolution
    /// input gradients on NCHW tensors whose channel counts do not fill its blocks (see <c>Networks/OneDnnSafeConv2d</c>);
    /// turning it off makes every CPU convolution correct at several times the cost. Process-wide.
    /// </summary>
    public static bool OneDnnEnabled
    {
        get => !Available || s_getMkldnn(s_globalContext()) != 0;
        set { if (Available) s_setMkldnn(s_globalContext(), value ? (byte)1 : (byte)0); }
    }

    /// <summary>
    /// Turns NNPACK off: libtorch otherwise probes it on every convolution and prints "Could not initialize NNPACK!
    /// Reason: Unsupported hardware" on CPUs it does not support; oneDNN and BLAS paths serve those convolutions.
    /// </summary>
    public static void DisableNnpack()
    {
        if (Available) s_setNnpack(s_globalContext(), 0);
    }
}
