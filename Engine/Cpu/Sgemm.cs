using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Cpu;

/// <summary>
/// Single-precision GEMM for the CPU backend, organised the GotoBLAS/BLIS way: B is packed into
/// k-blocks of NR-wide column panels, A into MR-tall row panels, and a register-blocked micro-kernel
/// (12×32 with AVX-512, 6×16 with AVX2) accumulates an MR×NR tile of C in registers with FMAs.
/// Transposes are absorbed by the packing; work is split over cores by slicing C, one slice per thread.
/// </summary>
public static unsafe class Sgemm
{
    /// <summary>Depth of one packed block (tuned on this 2-core Zen 4: 384 beat 192, 256 and 320 at 512-2048).</summary>
    private const int KC = 384;

    /// <summary>Rows of C per work item (a multiple of both micro-kernels' MR).</summary>
    private const int MC = 96;

    /// <summary>Columns of B packed at once (bounds the packed-B buffer to KC·NC floats).</summary>
    private const int NC = 3072;

    /// <summary>Products with fewer multiply-adds than this use the unpacked loop: packing would cost more than it saves.</summary>
    private const long SmallWork = 32 * 32 * 32;

    private static readonly bool Use512 = Vector512.IsHardwareAccelerated && Avx512Usable();
    private static readonly int MR = Use512 ? 12 : 6;
    private static readonly int NR = Use512 ? 32 : 16;

    private static bool Avx512Usable() => Environment.GetEnvironmentVariable("ENGINE_SGEMM_AVX2") is null;

    /// <summary>The micro-kernel in use, for benchmark reports.</summary>
    public static string KernelName => Use512 ? "avx512 12x32" : "avx2 6x16";

    /// <summary>Threads a large product may use (default: all cores).</summary>
    public static int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Set on threads that are already one of several parallel workers (the CPU backend's per-head
    /// attention loop): a GEMM there runs on its own thread instead of nesting another parallel loop.
    /// </summary>
    [ThreadStatic] internal static bool InParallelWorker;

    /// <summary>
    /// C = alpha · op(A) · op(B) + beta · C, row-major, where op(X) is X or Xᵀ; op(A) is m×k and op(B)
    /// is k×n. With beta = 0, C's old contents are ignored (NaN included), as in BLAS.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        if ((long)m * n * k < SmallWork)
        {
            Gemm.Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        fixed (float* pa = a, pb = b, pc = c)
            Blocked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    /// <summary>The same product for <paramref name="batch"/> matrices at fixed element strides.</summary>
    public static void MultiplyBatched(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, long strideA, ReadOnlySpan<float> b, int ldb, long strideB,
        float beta, Span<float> c, int ldc, long strideC, int batch)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch count cannot be negative.");
        for (int i = 0; i < batch; i++)
            Multiply(transA, transB, m, n, k, alpha, a[(int)(i * strideA)..], lda, b[(int)(i * strideB)..], ldb, beta, c[(int)(i * strideC)..], ldc);
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"GEMM dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < aCols) throw new ArgumentException($"lda={lda} is smaller than A's row length {aCols} (A is {aRows}x{aCols} as stored); pass the distance between rows.");
        if (ldb < bCols) throw new ArgumentException($"ldb={ldb} is smaller than B's row length {bCols} (B is {bRows}x{bCols} as stored).");
        if (ldc < n) throw new ArgumentException($"ldc={ldc} is smaller than C's row length {n}.");
        static long Need(int rows, int cols, int ld) => rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (aLength < Need(aRows, aCols, lda)) throw new ArgumentException($"A holds {aLength} floats but a {aRows}x{aCols} matrix with lda={lda} needs {Need(aRows, aCols, lda)}.");
        if (bLength < Need(bRows, bCols, ldb)) throw new ArgumentException($"B holds {bLength} floats but a {bRows}x{bCols} matrix with ldb={ldb} needs {Need(bRows, bCols, ldb)}.");
        if (cLength < Need(m, n, ldc)) throw new ArgumentException($"C holds {cLength} floats but a {m}x{n} matrix with ldc={ldc} needs {Need(m, n, ldc)}.");
    }

    private static void ScaleC(int m, int n, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    // ------------------------------------------------------------------ blocked driver

    [ThreadStatic] private static NativeBuffer? _packA, _packB;

    /// <summary>A 64-byte aligned scratch buffer per thread, grown on demand and reused across calls.</summary>
    private sealed class NativeBuffer
    {
        public float* Pointer;
        public long Capacity;

        public float* Get(long floats)
        {
            if (floats > Capacity)
            {
                if (Pointer != null) NativeMemory.AlignedFree(Pointer);
                Capacity = Math.Max(floats, Capacity * 2);
                Pointer = (float*)NativeMemory.AlignedAlloc((nuint)(Capacity * sizeof(float)), 64);
            }
            return Pointer;
        }

        ~NativeBuffer()
        {
            if (Pointer != null) NativeMemory.AlignedFree(Pointer);
        }
    }

    /// <summary>
    /// Splits C into one slice per thread (along m when there are enough rows, else along n, on
    /// panel boundaries) and runs each slice as an independent single-threaded GEMM with its own packing
    /// buffers: no synchronisation but the final join. Packing the shared operand once per slice
    /// costs about 1/(slice width) of the slice's arithmetic, which is noise.
    /// </summary>
    private static void Blocked(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        int threads = InParallelWorker ? 1 : Math.Max(1, MaxDegreeOfParallelism);
        // Below ~128³ multiply-adds a thread hand-off costs more than it saves.
        if (threads == 1 || (long)m * n * k < 128L * 128 * 128)
        {
            Single(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        // Prefer slicing rows: each thread then packs only its own A rows (a strided gather) and the
        // whole of B (row copies, cheap). Slice columns only when there are too few rows to share.
        bool splitN = m < threads * MC;
        int extent = splitN ? n : m, unit = splitN ? NR : MR;
        int units = (extent + unit - 1) / unit;
        int parts = Math.Min(threads, units);
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Parallel.For(0, parts, options, part =>
        {
            int u0 = (int)((long)units * part / parts), u1 = (int)((long)units * (part + 1) / parts);
            int start = u0 * unit, len = Math.Min(extent, u1 * unit) - start;
            if (len <= 0) return;
            float* a0 = (float*)pa, b0 = (float*)pb, c0 = (float*)pc;
            if (splitN)
                Single(transA, transB, m, len, k, alpha, a0, lda, transB ? b0 + (long)start * ldb : b0 + start, ldb, beta, c0 + start, ldc);
            else
                Single(transA, transB, len, n, k, alpha, transA ? a0 + start : a0 + (long)start * lda, lda, b0, ldb, beta, c0 + (long)start * ldc, ldc);
        });
    }

    /// <summary>One thread's GEMM: for each NC column block and KC depth block, pack B and A, then sweep the tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Single(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        int mr = MR, nr = NR;
        int mPanels = (m + mr - 1) / mr;
        float* packA = (_packA ??= new NativeBuffer()).Get((long)mPanels * mr * KC);
        float* packB = (_packB ??= new NativeBuffer()).Get((long)((Math.Min(n, NC) + nr - 1) / nr) * nr * KC);
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            int nPanels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                float betaHere = pc == 0 ? beta : 1f;
                for (int jp = 0; jp < nPanels; jp++)
                    PackB(transB, b, ldb, pc, kc, jc + jp * nr, Math.Min(nr, nc - jp * nr), packB + (long)jp * nr * kc, nr);
                for (int ip = 0; ip < mPanels; ip++)
                    PackA(transA, a, lda, ip * mr, Math.Min(mr, m - ip * mr), pc, kc, packA + (long)ip * mr * kc, mr);
                // Row blocks of MC keep their A panels in L2 while each B panel (in L1) sweeps them.
                for (int i0 = 0; i0 < m; i0 += MC)
                {
                    int i1 = Math.Min(m, i0 + MC);
                    for (int jp = 0; jp < nPanels; jp++)
                    {
                        int j = jc + jp * nr, cols = Math.Min(nr, n - j);
                        float* bp = packB + (long)jp * nr * kc;
                        for (int i = i0; i < i1; i += mr)
                            Tile(kc, packA + (long)(i / mr) * mr * kc, bp, c + (long)i * ldc + j, ldc, Math.Min(mr, m - i), cols, alpha, betaHere);
                    }
                }
            }
        }
    }

    /// <summary>Packs rows [i0, i0+rows) × depth [p0, p0+kc) of op(A) as an MR-tall panel: for each p, MR consecutive values (zero past the last row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(bool transA, float* a, int lda, int i0, int rows, int p0, int kc, float* dst, int mr)
    {
        if (transA)
        {
            // op(A)[i, p] = A[p, i]: each depth step reads `rows` consecutive floats.
            for (int p = 0; p < kc; p++)
            {
                float* src = a + (long)(p0 + p) * lda + i0;
                float* d = dst + (long)p * mr;
                int i = 0;
                for (; i < rows; i++) d[i] = src[i];
                for (; i < mr; i++) d[i] = 0;
            }
        }
        else
        {
            for (int i = 0; i < rows; i++)
            {
                float* src = a + (long)(i0 + i) * lda + p0;
                for (int p = 0; p < kc; p++) dst[(long)p * mr + i] = src[p];
            }
            for (int i = rows; i < mr; i++)
                for (int p = 0; p < kc; p++) dst[(long)p * mr + i] = 0;
        }
    }

    /// <summary>Packs depth [p0, p0+kc) × columns [j0, j0+cols) of op(B) as an NR-wide panel: for each p, NR consecutive values (zero past the last column).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(bool transB, float* b, int ldb, int p0, int kc, int j0, int cols, float* dst, int nr)
    {
        if (!transB)
        {
            for (int p = 0; p < kc; p++)
            {
                float* src = b + (long)(p0 + p) * ldb + j0;
                float* d = dst + (long)p * nr;
                if (cols == nr) Buffer.MemoryCopy(src, d, nr * sizeof(float), nr * sizeof(float));
                else
                {
                    int j = 0;
                    for (; j < cols; j++) d[j] = src[j];
                    for (; j < nr; j++) d[j] = 0;
                }
            }
        }
        else
        {
            // op(B)[p, j] = B[j, p]: read each stored row (a column of op(B)) sequentially.
            for (int j = 0; j < cols; j++)
            {
                float* src = b + (long)(j0 + j) * ldb + p0;
                for (int p = 0; p < kc; p++) dst[(long)p * nr + j] = src[p];
            }
            for (int j = cols; j < nr; j++)
                for (int p = 0; p < kc; p++) dst[(long)p * nr + j] = 0;
        }
    }

    /// <summary>One MR×NR tile of C; partial tiles go through a scratch tile so the micro-kernel never writes out of bounds.</summary>
    /// <remarks>Not inlined: its stackalloc must be released per call, not per enclosing loop.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int kc, float* ap, float* bp, float* c, int ldc, int rows, int cols, float alpha, float beta)
    {
        if (rows == MR && cols == NR)
        {
            if (Use512) Kernel12x32(kc, ap, bp, c, ldc, alpha, beta);
            else Kernel6x16(kc, ap, bp, c, ldc, alpha, beta);
            return;
        }
        float* tile = stackalloc float[12 * 32];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) tile[i * NR + j] = c[(long)i * ldc + j];
        if (Use512) Kernel12x32(kc, ap, bp, tile, NR, alpha, beta);
        else Kernel6x16(kc, ap, bp, tile, NR, alpha, beta);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) c[(long)i * ldc + j] = tile[i * NR + j];
    }

    // ------------------------------------------------------------------ micro-kernels

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> acc, Vector512<float> alpha, float beta)
    {
        var r = acc * alpha;
        if (beta != 0) r = Vector512.FusedMultiplyAdd(Vector512.Load(c), Vector512.Create(beta), r);
        r.Store(c);
    }

    /// <summary>C[12×32] = alpha · Σ_p a[p, 0..12) ⊗ b[p, 0..32) + beta · C, with 24 accumulators held in zmm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12x32(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < kc; p++, a += 12, b += 32)
        {
            var b0 = Vector512.LoadAligned(b);
            var b1 = Vector512.LoadAligned(b + 16);
            var x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            x = Vector512.Create(a[8]); c80 = Vector512.FusedMultiplyAdd(x, b0, c80); c81 = Vector512.FusedMultiplyAdd(x, b1, c81);
            x = Vector512.Create(a[9]); c90 = Vector512.FusedMultiplyAdd(x, b0, c90); c91 = Vector512.FusedMultiplyAdd(x, b1, c91);
            x = Vector512.Create(a[10]); ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1);
            x = Vector512.Create(a[11]); cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1);
        }
        var al = Vector512.Create(alpha);
        Store512(c, c00, al, beta); Store512(c + 16, c01, al, beta); c += ldc;
        Store512(c, c10, al, beta); Store512(c + 16, c11, al, beta); c += ldc;
        Store512(c, c20, al, beta); Store512(c + 16, c21, al, beta); c += ldc;
        Store512(c, c30, al, beta); Store512(c + 16, c31, al, beta); c += ldc;
        Store512(c, c40, al, beta); Store512(c + 16, c41, al, beta); c += ldc;
        Store512(c, c50, al, beta); Store512(c + 16, c51, al, beta); c += ldc;
        Store512(c, c60, al, beta); Store512(c + 16, c61, al, beta); c += ldc;
        Store512(c, c70, al, beta); Store512(c + 16, c71, al, beta); c += ldc;
        Store512(c, c80, al, beta); Store512(c + 16, c81, al, beta); c += ldc;
        Store512(c, c90, al, beta); Store512(c + 16, c91, al, beta); c += ldc;
        Store512(c, ca0, al, beta); Store512(c + 16, ca1, al, beta); c += ldc;
        Store512(c, cb0, al, beta); Store512(c + 16, cb1, al, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> acc, Vector256<float> alpha, float beta)
    {
        var r = acc * alpha;
        if (beta != 0) r = Vector256.FusedMultiplyAdd(Vector256.Load(c), Vector256.Create(beta), r);
        r.Store(c);
    }

    /// <summary>C[6×16] = alpha · Σ_p a[p, 0..6) ⊗ b[p, 0..16) + beta · C, with 12 accumulators held in ymm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += 6, b += 16)
        {
            var b0 = Vector256.LoadAligned(b);
            var b1 = Vector256.LoadAligned(b + 8);
            var x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        var al = Vector256.Create(alpha);
        Store256(c, c00, al, beta); Store256(c + 8, c01, al, beta); c += ldc;
        Store256(c, c10, al, beta); Store256(c + 8, c11, al, beta); c += ldc;
        Store256(c, c20, al, beta); Store256(c + 8, c21, al, beta); c += ldc;
        Store256(c, c30, al, beta); Store256(c + 8, c31, al, beta); c += ldc;
        Store256(c, c40, al, beta); Store256(c + 8, c41, al, beta); c += ldc;
        Store256(c, c50, al, beta); Store256(c + 8, c51, al, beta);
    }
}
