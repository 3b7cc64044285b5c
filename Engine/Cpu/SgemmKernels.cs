using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Cpu;

// Micro-kernels: an MR×NR tile of C accumulated in vector registers over one packed depth block.
public static unsafe partial class Sgemm
{
    /// <summary>
    /// Asks for C's tile rows before the depth loop starts, so their cache misses overlap hundreds
    /// of FMAs instead of stalling the stores at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchC(float* c, int ldc, int rows, int lastColumn)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < rows; i++, c += ldc)
        {
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + lastColumn);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> acc, Vector512<float> alpha, Vector512<float> beta, bool loadC)
    {
        var r = acc * alpha;
        if (loadC) r = Vector512.FusedMultiplyAdd(Vector512.Load(c), beta, r);
        r.Store(c);
    }

    /// <summary>C[12×32] = alpha · Σ_p a[p, 0..12) ⊗ b[p, 0..32) + beta · C, with 24 accumulators in zmm registers.</summary>
    /// <remarks>
    /// 24 accumulators + 2 B vectors + 1 broadcast use 27 of the 32 zmm registers; each depth step is
    /// 24 FMAs against 2 vector loads and 12 broadcasts, enough independent chains to cover the FMA latency.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel12x32(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        PrefetchC(c, ldc, 12, 31);
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
        var be = Vector512.Create(beta);
        bool loadC = beta != 0;
        Store512(c, c00, al, be, loadC); Store512(c + 16, c01, al, be, loadC); c += ldc;
        Store512(c, c10, al, be, loadC); Store512(c + 16, c11, al, be, loadC); c += ldc;
        Store512(c, c20, al, be, loadC); Store512(c + 16, c21, al, be, loadC); c += ldc;
        Store512(c, c30, al, be, loadC); Store512(c + 16, c31, al, be, loadC); c += ldc;
        Store512(c, c40, al, be, loadC); Store512(c + 16, c41, al, be, loadC); c += ldc;
        Store512(c, c50, al, be, loadC); Store512(c + 16, c51, al, be, loadC); c += ldc;
        Store512(c, c60, al, be, loadC); Store512(c + 16, c61, al, be, loadC); c += ldc;
        Store512(c, c70, al, be, loadC); Store512(c + 16, c71, al, be, loadC); c += ldc;
        Store512(c, c80, al, be, loadC); Store512(c + 16, c81, al, be, loadC); c += ldc;
        Store512(c, c90, al, be, loadC); Store512(c + 16, c91, al, be, loadC); c += ldc;
        Store512(c, ca0, al, be, loadC); Store512(c + 16, ca1, al, be, loadC); c += ldc;
        Store512(c, cb0, al, be, loadC); Store512(c + 16, cb1, al, be, loadC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> acc, Vector256<float> alpha, Vector256<float> beta, bool loadC)
    {
        var r = acc * alpha;
        if (loadC) r = Vector256.FusedMultiplyAdd(Vector256.Load(c), beta, r);
        r.Store(c);
    }

    /// <summary>C[6×16] = alpha · Σ_p a[p, 0..6) ⊗ b[p, 0..16) + beta · C, with 12 accumulators in ymm registers.</summary>
    /// <remarks>12 accumulators + 2 B vectors + 1 broadcast use 15 of the 16 ymm registers AVX2 has.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        PrefetchC(c, ldc, 6, 15);
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
        var be = Vector256.Create(beta);
        bool loadC = beta != 0;
        Store256(c, c00, al, be, loadC); Store256(c + 8, c01, al, be, loadC); c += ldc;
        Store256(c, c10, al, be, loadC); Store256(c + 8, c11, al, be, loadC); c += ldc;
        Store256(c, c20, al, be, loadC); Store256(c + 8, c21, al, be, loadC); c += ldc;
        Store256(c, c30, al, be, loadC); Store256(c + 8, c31, al, be, loadC); c += ldc;
        Store256(c, c40, al, be, loadC); Store256(c + 8, c41, al, be, loadC); c += ldc;
        Store256(c, c50, al, be, loadC); Store256(c + 8, c51, al, be, loadC);
    }
}
