using System.Runtime.InteropServices;

namespace Engine.Benchmarks;

/// <summary>
/// OpenBLAS's cblas_sgemm, the CPU peer of Engine's SGEMM (DESIGN.md). Loaded from Debian's
/// libopenblas0-pthread (`apt-get install libopenblas0-pthread`); missing, it says so.
/// </summary>
public static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;
    private static readonly nint Library = Load();

    private static nint Load()
    {
        foreach (var name in new[] { "libopenblas.so.0", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0", "libopenblas.so" })
            if (NativeLibrary.TryLoad(name, out var h)) return h;
        return 0;
    }

    /// <summary>True when the library was found.</summary>
    public static bool Available => Library != 0;

    /// <summary>Sets OpenBLAS's thread count.</summary>
    public static void SetThreads(int n) => ((delegate* unmanaged<int, void>)NativeLibrary.GetExport(Library, "openblas_set_num_threads"))(n);

    /// <summary>The kernel OpenBLAS picked for this CPU (e.g. "Zen" or "SkylakeX").</summary>
    public static string CoreName => Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)NativeLibrary.GetExport(Library, "openblas_get_corename"))()) ?? "?";

    /// <summary>OpenBLAS's build configuration string.</summary>
    public static string Config => Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)NativeLibrary.GetExport(Library, "openblas_get_config"))()) ?? "?";

    /// <summary>C = alpha·op(A)·op(B) + beta·C, row-major.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        var f = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(Library, "cblas_sgemm");
        f(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
