using System.Numerics.Tensors;

namespace Engine.Cpu;

// The unpacked path for products too small to repay packing (and for CPUs without 256-bit SIMD).
public static unsafe partial class Sgemm
{
    /// <summary>
    /// Row by row: C[i, :] = beta · C[i, :] + alpha · op(A)[i, :] · op(B), as vectorised row updates
    /// (op(B) = B: one axpy per depth step over a contiguous B row) or dot products (op(B) = Bᵀ:
    /// each C element is a dot of two contiguous rows).
    /// </summary>
    private static void Small(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        float[]? rented = null;
        Span<float> aRow = transA && transB
            ? (k <= 1024 ? stackalloc float[k] : (rented = System.Buffers.ArrayPool<float>.Shared.Rent(k)).AsSpan(0, k))
            : default;
        try
        {
            for (int i = 0; i < m; i++)
            {
                var cRow = new Span<float>(c + (long)i * ldc, n);
                if (beta == 0) cRow.Clear();
                else if (beta != 1) TensorPrimitives.Multiply(cRow, beta, cRow);
                if (!transB)
                {
                    for (int p = 0; p < k; p++)
                    {
                        float s = alpha * (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b + (long)p * ldb, n), s, cRow, cRow);
                    }
                    continue;
                }
                scoped ReadOnlySpan<float> row;
                if (transA)
                {
                    for (int p = 0; p < k; p++) aRow[p] = a[(long)p * lda + i];
                    row = aRow;
                }
                else row = new ReadOnlySpan<float>(a + (long)i * lda, k);
                for (int j = 0; j < n; j++)
                    cRow[j] += alpha * TensorPrimitives.Dot(row, new ReadOnlySpan<float>(b + (long)j * ldb, k));
            }
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<float>.Shared.Return(rented);
        }
    }
}
