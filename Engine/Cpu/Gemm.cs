using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>
/// Generic row-major GEMM: c = alpha * op(a) @ op(b) + beta * c. Float32 goes to the packed
/// <see cref="Sgemm"/>; everything else (float64 for gradient checks) and tiny float32 products use
/// the plain loop here: vectorised row updates or dot products, parallel over rows.
/// </summary>
internal static class Gemm
{
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            Sgemm.Multiply(transA, transB, m, n, k, (float)(object)alpha,
                MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb, (float)(object)beta,
                MemoryMarshal.Cast<T, float>(c), ldc);
            return;
        }
        Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    public static unsafe void Reference<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        fixed (T* pa = a, pb = b, pc = c)
        {
            T* A = pa, B = pb, C = pc;
            void Row(int i)
            {
                var crow = new Span<T>(C + (long)i * ldc, n);
                if (beta == T.Zero) crow.Clear(); else if (beta != T.One) TensorPrimitives.Multiply(crow, beta, crow);
                if (k == 0) return;
                if (transB)
                {
                    // c[i, j] += alpha * dot(op(a)[i, :], b[j, :])
                    T[] tmp = new T[k];
                    for (int p = 0; p < k; p++) tmp[p] = transA ? A[(long)p * lda + i] : A[(long)i * lda + p];
                    for (int j = 0; j < n; j++)
                        crow[j] += alpha * TensorPrimitives.Dot<T>(tmp, new ReadOnlySpan<T>(B + (long)j * ldb, k));
                }
                else
                {
                    for (int p = 0; p < k; p++)
                    {
                        T s = alpha * (transA ? A[(long)p * lda + i] : A[(long)i * lda + p]);
                        if (s == T.Zero) continue;
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(B + (long)p * ldb, n), s, crow, crow);
                    }
                }
            }
            if ((long)m * n * Math.Max(k, 1) < CpuBackend.ParallelThreshold * 4L) for (int i = 0; i < m; i++) Row(i);
            else Parallel.For(0, m, Row);
        }
    }
}
