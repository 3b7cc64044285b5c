using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Cpu;

// Packing: copies a block of op(A) or op(B) into the layout the micro-kernel reads sequentially.
// The transposes are absorbed here, so the kernel sees the same layout in all four cases.
public static unsafe partial class Sgemm
{
    /// <summary>
    /// Packs rows [i0, i0+rows) × depth [p0, p0+kc) of op(A) as one MR-tall panel: for each p, MR
    /// consecutive values, zero past the last row so the kernel can always run a full tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackA(bool transA, float* a, int lda, int i0, int rows, int p0, int kc, float* dst, int mr)
    {
        if (transA)
        {
            // op(A)[i, p] = A[p, i]: each depth step is a contiguous run of `rows` floats.
            float* src = a + (long)p0 * lda + i0;
            if (rows == 12 && mr == 12)
            {
                for (int p = 0; p < kc; p++, src += lda, dst += 12)
                {
                    Vector256.Store(Vector256.Load(src), dst);
                    Vector128.Store(Vector128.Load(src + 8), dst + 8);
                }
                return;
            }
            for (int p = 0; p < kc; p++, src += lda, dst += mr)
            {
                int i = 0;
                for (; i < rows; i++) dst[i] = src[i];
                for (; i < mr; i++) dst[i] = 0;
            }
            return;
        }
        // op(A)[i, p] = A[i, p]: a transpose. Visiting the panel p-major keeps the writes
        // sequential; the MR source rows are read as MR parallel sequential streams.
        float* s = a + (long)i0 * lda + p0;
        if (rows == mr)
        {
            if (mr == 12)
            {
                for (int p = 0; p < kc; p++, s++, dst += 12)
                {
                    float* q = s;
                    dst[0] = q[0]; q += lda; dst[1] = q[0]; q += lda; dst[2] = q[0]; q += lda;
                    dst[3] = q[0]; q += lda; dst[4] = q[0]; q += lda; dst[5] = q[0]; q += lda;
                    dst[6] = q[0]; q += lda; dst[7] = q[0]; q += lda; dst[8] = q[0]; q += lda;
                    dst[9] = q[0]; q += lda; dst[10] = q[0]; q += lda; dst[11] = q[0];
                }
                return;
            }
            if (mr == 6)
            {
                for (int p = 0; p < kc; p++, s++, dst += 6)
                {
                    float* q = s;
                    dst[0] = q[0]; q += lda; dst[1] = q[0]; q += lda; dst[2] = q[0]; q += lda;
                    dst[3] = q[0]; q += lda; dst[4] = q[0]; q += lda; dst[5] = q[0];
                }
                return;
            }
        }
        for (int p = 0; p < kc; p++, s++, dst += mr)
        {
            int i = 0;
            for (; i < rows; i++) dst[i] = s[(long)i * lda];
            for (; i < mr; i++) dst[i] = 0;
        }
    }

    /// <summary>
    /// Packs depth [p0, p0+kc) × columns [j0, j0+cols) of op(B) as one NR-wide panel: for each p, NR
    /// consecutive values, zero past the last column.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackB(bool transB, float* b, int ldb, int p0, int kc, int j0, int cols, float* dst, int nr)
    {
        if (!transB)
        {
            float* src = b + (long)p0 * ldb + j0;
            if (cols == nr)
            {
                // Whole rows of the panel: plain vector copies (dst is 64-byte aligned, src is not).
                if (nr == 32)
                    for (int p = 0; p < kc; p++, src += ldb, dst += 32)
                    {
                        Vector256.Store(Vector256.Load(src), dst);
                        Vector256.Store(Vector256.Load(src + 8), dst + 8);
                        Vector256.Store(Vector256.Load(src + 16), dst + 16);
                        Vector256.Store(Vector256.Load(src + 24), dst + 24);
                    }
                else
                    for (int p = 0; p < kc; p++, src += ldb, dst += nr)
                        for (int j = 0; j < nr; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
                return;
            }
            for (int p = 0; p < kc; p++, src += ldb, dst += nr)
            {
                int j = 0;
                for (; j < cols; j++) dst[j] = src[j];
                for (; j < nr; j++) dst[j] = 0;
            }
            return;
        }
        // op(B)[p, j] = B[j, p]: a transpose. Four stored rows at a time keep four sequential read
        // streams and write 16 bytes of each destination row per pass.
        float* s0 = b + (long)j0 * ldb + p0;
        int jj = 0;
        for (; jj + 4 <= cols; jj += 4)
        {
            float* r0 = s0 + (long)jj * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
            float* d = dst + jj;
            for (int p = 0; p < kc; p++, d += nr)
            {
                d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p];
            }
        }
        for (; jj < cols; jj++)
        {
            float* r = s0 + (long)jj * ldb;
            float* d = dst + jj;
            for (int p = 0; p < kc; p++, d += nr) d[0] = r[p];
        }
        for (int j = cols; j < nr; j++)
        {
            float* d = dst + j;
            for (int p = 0; p < kc; p++, d += nr) d[0] = 0;
        }
    }
}
