using System.Runtime.InteropServices;

namespace Engine.Benchmarks;

/// <summary>
/// OpenBLAS's cblas_sgemm through P/Invoke: the CPU peer of Engine's SGEMM (DESIGN.md). Loaded from
/// Debian's libopenblas0-pthread; when it is missing, the first use says how to install it.
/// </summary>
public static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private static readonly string[] Candidates =
    [
        "libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "libopenblas.so",
        "libopenblas",
    ];

    private static readonly nint Library = Load();

    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> CblasSgemm =
        Library == 0 ? null : (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(Library, "cblas_sgemm");

    private static nint Load()
    {
        foreach (var name in Candidates)
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        return 0;
    }

    /// <summary>True when the library was found.</summary>
    public static bool Available => Library != 0;

    private static nint Require()
    {
        if (Library == 0)
            throw new DllNotFoundException(
                $"OpenBLAS was not found (tried {string.Join(", ", Candidates)}). Install it with `apt-get install -y libopenblas0-pthread`, " +
                "or run only Engine's side with --filter '*SgemmBenchmarks.Engine*'.");
        return Library;
    }

    /// <summary>Sets the number of threads OpenBLAS uses for the following calls.</summary>
    public static void SetThreads(int threads) =>
        ((delegate* unmanaged<int, void>)NativeLibrary.GetExport(Require(), "openblas_set_num_threads"))(threads);

    /// <summary>The number of threads OpenBLAS will use.</summary>
    public static int Threads => ((delegate* unmanaged<int>)NativeLibrary.GetExport(Require(), "openblas_get_num_threads"))();

    /// <summary>The kernel family OpenBLAS picked for this CPU at load time (for example "Zen" or "Cooperlake").</summary>
    public static string CoreName => Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)NativeLibrary.GetExport(Require(), "openblas_get_corename"))()) ?? "?";

    /// <summary>OpenBLAS's build configuration (version, DYNAMIC_ARCH, maximum threads).</summary>
    public static string Config => Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)NativeLibrary.GetExport(Require(), "openblas_get_config"))()) ?? "?";

    /// <summary>C = alpha · op(A) · op(B) + beta · C on row-major matrices, as <see cref="Engine.Cpu.Sgemm.Multiply"/> defines it.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        Require();
        CblasSgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
