#pragma warning disable CS1591
using Engine.Gpu;

namespace Engine.Kernels;

// TEMPORARY (replaced by the helper's tiled FloatGemm before landing): one thread per output element.
public readonly record struct GemmOperand(int Offset, int Ld, int OuterStride = 0, int InnerCount = 1, int InnerStride = 0, int InnerDivisor = 1);

public static class FloatGemm
{
    private static int Base(GemmOperand o, int z) => o.Offset + z / o.InnerCount * o.OuterStride + z % o.InnerCount / o.InnerDivisor * o.InnerStride;

    [Kernel]
    internal static void NaiveKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmOperand la, GemmOperand lb, GemmOperand lc, NaiveShape s)
    {
        int z = Grid.IdxY;
        int index = Grid.GlobalIndexX;
        if (index >= s.M * s.N)
        {
            return;
        }
        int row = index / s.N, col = index - row * s.N;
        int ba = Base(la, z), bb = Base(lb, z), bc = Base(lc, z);
        float sum = 0f;
        for (int k = 0; k < s.K; k++)
        {
            float x = s.TransA != 0 ? a[ba + k * la.Ld + row] : a[ba + row * la.Ld + k];
            float y = s.TransB != 0 ? b[bb + col * lb.Ld + k] : b[bb + k * lb.Ld + col];
            sum += x * y;
        }
        int at = bc + row * lc.Ld + col;
        c[at] = s.Beta == 0f ? s.Alpha * sum : s.Alpha * sum + s.Beta * c[at];
    }

    public static void Multiply(Accelerator accelerator, int batch, int m, int n, int k, float alpha,
        ArrayView<float> a, GemmOperand aLayout, bool transA, ArrayView<float> b, GemmOperand bLayout, bool transB,
        float beta, ArrayView<float> c, GemmOperand cLayout)
    {
        if (batch == 0 || m == 0 || n == 0)
        {
            return;
        }
        var s = new NaiveShape { M = m, N = n, K = k, TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Alpha = alpha, Beta = beta };
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmOperand, GemmOperand, GemmOperand, NaiveShape>(NaiveKernel)(
            new KernelConfig(new Index3D((m * n + 127) / 128, batch, 1), new Index3D(128, 1, 1)), a, b, c, aLayout, bLayout, cLayout, s);
    }
}

internal struct NaiveShape
{
    public int M, N, K, TransA, TransB;
    public float Alpha, Beta;
}
