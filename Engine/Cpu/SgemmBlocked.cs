using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Cpu;

// The single-threaded packed product: cache blocking, packing buffers and the loop nest around the micro-kernel.
public static unsafe partial class Sgemm
{
    /// <summary>
    /// Depth of one packed block. The kernel's MR×KC A panel (24 KiB for 12×512) then stays in the
    /// 32 KiB L1 while it sweeps every B panel of the block, and C's load/store per tile is amortised
    /// over 512 FMA steps. Measured on Zen 4 against 256, 384 and 448: 512 was best at 512-2048.
    /// </summary>
    private const int KC = 512;

    /// <summary>Rows of op(A) packed at once: an MC×KC block (384 KiB) stays in the 1 MiB L2 while its panels are used.</summary>
    private const int MC = 192;

    /// <summary>
    /// Columns of op(B) packed at once. The KC×NC block (up to 6 MiB) lives in L3 and streams through
    /// L2 once per A panel; the hardware prefetcher keeps up with the sequential panels, and a wide
    /// block means op(A) is packed fewer times (measured: NC = 480 cost 3-6%).
    /// </summary>
    private const int NC = 3072;

    private static int MR => Path == KernelPath.Avx512 ? 12 : 6;
    private static int NR => Path == KernelPath.Avx512 ? 32 : 16;

    /// <summary>Per-thread packing buffers, 64-byte aligned, grown on demand and reused by every later call on that thread.</summary>
    [ThreadStatic] private static PackBuffer? _packA, _packB;

    private sealed class PackBuffer
    {
        private float* _pointer;
        private long _capacity;

        public float* Get(long floats)
        {
            if (floats > _capacity)
            {
                if (_pointer != null) NativeMemory.AlignedFree(_pointer);
                _pointer = null;
                _capacity = 0;
                long grown = Math.Max(floats, 4096);
                _pointer = (float*)NativeMemory.AlignedAlloc((nuint)(grown * sizeof(float)), 64);
                _capacity = grown;
            }
            return _pointer;
        }

        // The buffers live as long as their thread; the finalizer returns them when the thread ends.
        ~PackBuffer()
        {
            if (_pointer != null) NativeMemory.AlignedFree(_pointer);
        }
    }

    /// <summary>
    /// One thread's product, GotoBLAS order: for each NC column block and KC depth block pack op(B)
    /// once, then for each MC row block pack op(A) and, for each of its MR-row panels, sweep the
    /// block's NR-column panels. Depth blocks are balanced (k = 600 runs as 2×300, not 512 + 88) so
    /// no block is too shallow to amortise C's load and store.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        int mr = MR, nr = NR;
        int kBlocks = (k + KC - 1) / KC;
        int kcMax = (k + kBlocks - 1) / kBlocks;
        int mcMax = Math.Min(MC, RoundUp(m, mr)), ncMax = Math.Min(NC, RoundUp(n, nr));
        float* packA = (_packA ??= new PackBuffer()).Get((long)RoundUp(mcMax, mr) * kcMax);
        float* packB = (_packB ??= new PackBuffer()).Get((long)RoundUp(ncMax, nr) * kcMax);
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            int nPanels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                float betaHere = pc == 0 ? beta : 1f;
                for (int jp = 0; jp < nPanels; jp++)
                    PackB(transB, b, ldb, pc, kc, jc + jp * nr, Math.Min(nr, nc - jp * nr), packB + (long)jp * nr * kc, nr);
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    int mPanels = (mc + mr - 1) / mr;
                    for (int ip = 0; ip < mPanels; ip++)
                        PackA(transA, a, lda, ic + ip * mr, Math.Min(mr, mc - ip * mr), pc, kc, packA + (long)ip * mr * kc, mr);
                    float* cBlock = c + (long)ic * ldc + jc;
                    // A panel outer: its 12×KC floats stay in L1 while the B panels stream past.
                    for (int ip = 0; ip < mPanels; ip++)
                    {
                        int rows = Math.Min(mr, mc - ip * mr);
                        for (int jp = 0; jp < nPanels; jp++)
                            Tile(kc, packA + (long)ip * mr * kc, packB + (long)jp * nr * kc, cBlock + (long)ip * mr * ldc + jp * nr, ldc,
                                rows, Math.Min(nr, nc - jp * nr), alpha, betaHere);
                    }
                }
            }
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>One MR×NR tile of C; a partial tile goes through a scratch tile so the micro-kernel never touches C outside the m×n window.</summary>
    /// <remarks>Not inlined: its stackalloc must be released per call, not per enclosing loop.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int kc, float* ap, float* bp, float* c, int ldc, int rows, int cols, float alpha, float beta)
    {
        bool wide = Path == KernelPath.Avx512;
        if (rows == MR && cols == NR)
        {
            if (wide) Kernel12x32(kc, ap, bp, c, ldc, alpha, beta);
            else Kernel6x16(kc, ap, bp, c, ldc, alpha, beta);
            return;
        }
        int nr = NR;
        float* tile = stackalloc float[12 * 32];
        if (beta != 0)
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) tile[i * nr + j] = c[(long)i * ldc + j];
        if (wide) Kernel12x32(kc, ap, bp, tile, nr, alpha, beta);
        else Kernel6x16(kc, ap, bp, tile, nr, alpha, beta);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) c[(long)i * ldc + j] = tile[i * nr + j];
    }
}
