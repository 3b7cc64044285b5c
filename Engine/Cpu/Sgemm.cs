using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Cpu;

/// <summary>
/// Single-precision GEMM for the CPU backend: C = alpha · op(A) · op(B) + beta · C on row-major
/// matrices, where op(X) is X or Xᵀ.
/// </summary>
/// <remarks>
/// Organised the GotoBLAS/BLIS way (docs/cpu-sgemm.md): op(B) is packed into KC-deep blocks of
/// NR-wide column panels, op(A) into MC×KC blocks of MR-tall row panels, and a register-blocked
/// micro-kernel (12×32 with AVX-512, 6×16 with AVX2) keeps an MR×NR tile of C in registers while it
/// streams both panels. Transposes are absorbed by the packing. Large products are split over cores
/// by slicing C, one independent slice per thread; small ones take a plain vectorised loop.
/// </remarks>
public static unsafe partial class Sgemm
{
    /// <summary>Products with fewer multiply-adds than this use the unpacked loop: packing would cost more than it saves.</summary>
    private const long SmallWork = 40 * 40 * 40;

    /// <summary>Below this many multiply-adds a hand-off to a second thread costs more than it saves.</summary>
    private const long ParallelWork = 128L * 128 * 128;

    private static int _maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// Threads one product (or one batched call) may use. Defaults to <see cref="Environment.ProcessorCount"/>;
    /// set it to 1 to keep every call on the calling thread.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        set
        {
            if (value < 1)
                throw new ArgumentOutOfRangeException(nameof(value), value, "MaxDegreeOfParallelism must be at least 1; use 1 to run single-threaded.");
            _maxDegreeOfParallelism = value;
        }
    }

    /// <summary>The micro-kernel this process uses (for example "avx512 12x32"), for benchmark reports.</summary>
    public static string KernelName => Path switch
    {
        KernelPath.Avx512 => "avx512 12x32",
        KernelPath.Avx2 => "avx2 6x16",
        _ => "portable (no 256-bit SIMD)",
    };

    /// <summary>
    /// Set on threads that are already one of several parallel workers (the CPU backend's per-head
    /// attention loop, the batched call's own loop): a product there runs on its own thread instead
    /// of nesting another parallel loop and oversubscribing the cores.
    /// </summary>
    [ThreadStatic] internal static bool InParallelWorker;

    /// <summary>
    /// C = alpha · op(A) · op(B) + beta · C, row-major. op(A) is <paramref name="m"/>×<paramref name="k"/>
    /// and op(B) is <paramref name="k"/>×<paramref name="n"/>; A is stored k×m when <paramref name="transA"/>
    /// is set (likewise B stored n×k). With beta = 0, C's old contents are ignored, NaN included, as in BLAS.
    /// </summary>
    /// <param name="transA">Use Aᵀ: A is stored k×m.</param>
    /// <param name="transB">Use Bᵀ: B is stored n×k.</param>
    /// <param name="m">Rows of op(A) and of C.</param>
    /// <param name="n">Columns of op(B) and of C.</param>
    /// <param name="k">Columns of op(A), rows of op(B); 0 leaves beta · C.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A's elements, row-major.</param>
    /// <param name="lda">Distance between A's stored rows, at least its stored row length.</param>
    /// <param name="b">B's elements, row-major.</param>
    /// <param name="ldb">Distance between B's stored rows, at least its stored row length.</param>
    /// <param name="beta">Scale of C's old contents; 0 ignores them.</param>
    /// <param name="c">C's elements, row-major; only the m×n window is written.</param>
    /// <param name="ldc">Distance between C's rows, at least n.</param>
    /// <exception cref="ArgumentException">A dimension is negative, a leading dimension is too small, or a span is too short.</exception>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, lda, ldb, ldc);
        CheckLength("A", a.Length, 0, 1, Need(transA ? k : m, transA ? m : k, lda), "lda");
        CheckLength("B", b.Length, 0, 1, Need(transB ? n : k, transB ? k : n, ldb), "ldb");
        CheckLength("C", c.Length, 0, 1, Need(m, n, ldc), "ldc");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
            Run(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, InParallelWorker ? 1 : MaxDegreeOfParallelism);
    }

    /// <summary>
    /// The same product for <paramref name="batch"/> independent matrices at fixed element strides:
    /// for i in [0, batch), C[i] = alpha · op(A[i]) · op(B[i]) + beta · C[i], where matrix i of each
    /// operand starts at element i · stride. A stride of 0 reuses one operand for every product.
    /// </summary>
    /// <param name="transA">Use Aᵀ: each A is stored k×m.</param>
    /// <param name="transB">Use Bᵀ: each B is stored n×k.</param>
    /// <param name="m">Rows of op(A) and of C.</param>
    /// <param name="n">Columns of op(B) and of C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the products.</param>
    /// <param name="a">The A matrices.</param>
    /// <param name="lda">Distance between rows within one A.</param>
    /// <param name="strideA">Elements between consecutive A matrices (0 or more).</param>
    /// <param name="b">The B matrices.</param>
    /// <param name="ldb">Distance between rows within one B.</param>
    /// <param name="strideB">Elements between consecutive B matrices (0 or more).</param>
    /// <param name="beta">Scale of each C's old contents; 0 ignores them.</param>
    /// <param name="c">The C matrices; they must not overlap one another.</param>
    /// <param name="ldc">Distance between rows within one C.</param>
    /// <param name="strideC">Elements between consecutive C matrices.</param>
    /// <param name="batch">Number of products (0 or more).</param>
    /// <exception cref="ArgumentException">A dimension, stride or the batch count is negative, a leading dimension is too small, or a span is too short.</exception>
    public static void MultiplyBatched(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, long strideA, ReadOnlySpan<float> b, int ldb, long strideB,
        float beta, Span<float> c, int ldc, long strideC, int batch)
    {
        Validate(transA, transB, m, n, k, lda, ldb, ldc);
        if (batch < 0) throw new ArgumentException($"batch={batch} is negative; pass the number of products (0 or more).", nameof(batch));
        if (strideA < 0 || strideB < 0 || strideC < 0)
            throw new ArgumentException($"Strides must be non-negative, got strideA={strideA}, strideB={strideB}, strideC={strideC}.");
        long needC = Need(m, n, ldc);
        if (batch > 1 && strideC < needC && needC > 0)
            throw new ArgumentException($"strideC={strideC} is smaller than one C matrix ({needC} floats for {m}x{n} with ldc={ldc}), so the outputs would overlap; pass at least {needC}.", nameof(strideC));
        CheckLength("A", a.Length, strideA, batch, Need(transA ? k : m, transA ? m : k, lda), "lda");
        CheckLength("B", b.Length, strideB, batch, Need(transB ? n : k, transB ? k : n, ldb), "ldb");
        CheckLength("C", c.Length, strideC, batch, needC, "ldc");
        if (batch == 0 || m == 0 || n == 0) return;

        int threads = InParallelWorker ? 1 : MaxDegreeOfParallelism;
        long work = (long)m * n * Math.Max(k, 1);
        fixed (float* pa = a, pb = b, pc = c)
        {
            // Big products parallelise inside; a batch of small ones (attention heads) shares the cores
            // by item instead, each item on one thread.
            if (threads == 1 || batch == 1 || work >= ParallelWork)
            {
                for (int i = 0; i < batch; i++)
                    Run(transA, transB, m, n, k, alpha, pa + i * strideA, lda, pb + i * strideB, ldb, beta, pc + i * strideC, ldc, threads);
                return;
            }
            nint xa = (nint)pa, xb = (nint)pb, xc = (nint)pc;
            Parallel.For(0, batch, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            {
                bool outer = InParallelWorker;
                InParallelWorker = true;
                try
                {
                    Run(transA, transB, m, n, k, alpha, (float*)xa + i * strideA, lda, (float*)xb + i * strideB, ldb,
                        beta, (float*)xc + i * strideC, ldc, 1);
                }
                finally { InParallelWorker = outer; }
            });
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"GEMM dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols))
            throw new ArgumentException($"lda={lda} is smaller than A's stored row length {aCols} (A is stored {aRows}x{aCols}{(transA ? ", transposed" : "")}); pass the distance between A's rows, at least {Math.Max(1, aCols)}.", nameof(lda));
        if (ldb < Math.Max(1, bCols))
            throw new ArgumentException($"ldb={ldb} is smaller than B's stored row length {bCols} (B is stored {bRows}x{bCols}{(transB ? ", transposed" : "")}); pass the distance between B's rows, at least {Math.Max(1, bCols)}.", nameof(ldb));
        if (ldc < Math.Max(1, n))
            throw new ArgumentException($"ldc={ldc} is smaller than C's row length n={n}; pass the distance between C's rows, at least {Math.Max(1, n)}.", nameof(ldc));
    }

    /// <summary>Floats a rows×cols matrix with leading dimension ld spans: the last row need not be padded.</summary>
    private static long Need(int rows, int cols, int ld) => rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;

    private static void CheckLength(string name, int length, long stride, int batch, long need, string ldName)
    {
        if (need == 0) return;
        long total = (batch - 1) * stride + need;
        if (length < total)
            throw new ArgumentException(batch == 1
                ? $"{name} holds {length} floats but the product needs {need} ({name} as stored with {ldName} and the given m, n, k); pass a longer span or smaller dimensions."
                : $"{name} holds {length} floats but {batch} matrices at stride {stride} need {total}; pass a longer span, a smaller stride or fewer matrices.", name.ToLowerInvariant());
    }

    private enum KernelPath { Portable, Avx2, Avx512 }

    /// <summary>
    /// The widest micro-kernel the hardware runs natively. ENGINE_SGEMM_AVX2=1 forces the 256-bit
    /// kernel on AVX-512 hardware (to compare them, and to test the fallback on one machine).
    /// </summary>
    private static readonly KernelPath Path =
        Vector512.IsHardwareAccelerated && Environment.GetEnvironmentVariable("ENGINE_SGEMM_AVX2") is null or "" or "0" ? KernelPath.Avx512
        : Vector256.IsHardwareAccelerated ? KernelPath.Avx2
        : KernelPath.Portable;

    /// <summary>Dispatches one validated product: the trivial cases, the small loop, or the packed path on up to <paramref name="threads"/> threads.</summary>
    private static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, int threads)
    {
        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        long work = (long)m * n * k;
        if (work < SmallWork || Path == KernelPath.Portable)
        {
            Small(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        if (threads == 1 || work < ParallelWork)
        {
            Blocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        Sliced(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>
    /// Splits C into one slice per thread (along m when there are enough rows, else along n, on
    /// micro-panel boundaries) and runs each slice as an independent single-threaded product with its
    /// own packing buffers: no synchronisation but the final join. Each thread packs the shared
    /// operand again, which costs about 1/(slice width) of its arithmetic.
    /// </summary>
    private static void Sliced(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, int threads)
    {
        int mr = MR, nr = NR;
        // Rows first: each thread then packs only its own A rows and reads all of B, which is the
        // cheaper operand to pack. Columns only when there are too few rows to share.
        bool splitN = m < threads * 4 * mr && n > m;
        int extent = splitN ? n : m, unit = splitN ? nr : mr;
        int units = (extent + unit - 1) / unit;
        int parts = Math.Min(threads, units);
        if (parts <= 1)
        {
            Blocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        nint xa = (nint)a, xb = (nint)b, xc = (nint)c;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            int u0 = (int)((long)units * part / parts), u1 = (int)((long)units * (part + 1) / parts);
            int start = u0 * unit, len = Math.Min(extent, u1 * unit) - start;
            if (len <= 0) return;
            float* a0 = (float*)xa, b0 = (float*)xb, c0 = (float*)xc;
            if (splitN)
                Blocked(transA, transB, m, len, k, alpha, a0, lda, transB ? b0 + (long)start * ldb : b0 + start, ldb, beta, c0 + start, ldc);
            else
                Blocked(transA, transB, len, n, k, alpha, transA ? a0 + start : a0 + (long)start * lda, lda, b0, ldb, beta, c0 + (long)start * ldc, ldc);
        });
    }
}
