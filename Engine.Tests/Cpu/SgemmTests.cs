using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Tests.Cpu;

/// <summary>
/// The packed SGEMM against a float64 reference on fresh random inputs: every transpose case, edge
/// shapes, alpha/beta, padded leading dimensions, the batched form, and argument validation.
/// </summary>
public class SgemmTests
{
    private static float[] Random(Random r, long n)
    {
        var x = new float[Math.Max(1, n)];
        for (long i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>
    /// Relative Frobenius error allowed: float32 rounding (2⁻²⁴ ≈ 6e-8 per operation) grows like √k
    /// over a random-sign sum, so 2e-7·√k leaves a few-fold margin; 2e-7 covers the alpha/beta step.
    /// </summary>
    private static double Tolerance(int k) => 2e-7 * Math.Sqrt(Math.Max(k, 1)) + 2e-7;

    /// <summary>alpha · op(A) · op(B) + beta · C0 in float64; beta = 0 ignores C0 (it may hold NaN).</summary>
    private static double[] Reference(bool ta, bool tb, int m, int n, int k, double alpha, float[] a, long aOff, int lda,
        float[] b, long bOff, int ldb, double beta, float[] c0, long cOff, int ldc)
    {
        var want = new double[(long)m * n];
        var row = new double[k];
        for (int i = 0; i < m; i++)
        {
            for (int p = 0; p < k; p++) row[p] = ta ? a[aOff + (long)p * lda + i] : a[aOff + (long)i * lda + p];
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += row[p] * (tb ? b[bOff + (long)j * ldb + p] : b[bOff + (long)p * ldb + j]);
                want[(long)i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c0[cOff + (long)i * ldc + j]);
            }
        }
        return want;
    }

    private static double RelativeError(double[] want, float[] got, long cOff, int m, int n, int ldc)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double w = want[(long)i * n + j], d = got[cOff + (long)i * ldc + j] - w;
                err += d * d;
                norm += w * w;
            }
        return norm == 0 ? Math.Sqrt(err) : Math.Sqrt(err / norm);
    }

    /// <summary>Runs one product on fresh random data, C poisoned with NaN when beta = 0, and checks the result and the untouched padding.</summary>
    private static void Check(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad, int seed)
    {
        var r = new Random(seed);
        int lda = Math.Max(1, (ta ? m : k) + pad), ldb = Math.Max(1, (tb ? k : n) + pad), ldc = Math.Max(1, n + pad);
        var a = Random(r, (long)(ta ? k : m) * lda);
        var b = Random(r, (long)(tb ? n : k) * ldb);
        var c0 = Random(r, (long)m * ldc);
        if (beta == 0) Array.Fill(c0, float.NaN);
        var c = (float[])c0.Clone();

        Sgemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

        var want = Reference(ta, tb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c0, 0, ldc);
        double rel = RelativeError(want, c, 0, m, n, ldc);
        Assert.True(rel < Tolerance(k),
            $"m={m} n={n} k={k} transA={ta} transB={tb} alpha={alpha} beta={beta} pad={pad}: relative error {rel:E2} >= {Tolerance(k):E2}");
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(c[(long)i * ldc + j].Equals(c0[(long)i * ldc + j]), $"padding C[{i},{j}] beyond n={n} was written");
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 2, 3, 1 }, { 1, 1, 70 }, { 17, 31, 13 }, { 5, 7, 0 }, { 0, 5, 3 }, { 4, 0, 3 },
        { 64, 64, 64 }, { 37, 41, 43 }, { 100, 33, 257 }, { 13, 97, 300 }, { 1, 300, 80 }, { 300, 1, 80 },
        { 131, 67, 129 }, { 200, 150, 71 }, { 12, 32, 500 }, { 11, 33, 513 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void All_transposes_match_float64(int m, int n, int k)
    {
        int seed = m * 7919 + n * 31 + k;
        foreach (var ta in new[] { false, true })
            foreach (var tb in new[] { false, true })
            {
                Check(ta, tb, m, n, k, 1f, 0f, 0, seed++);
                Check(ta, tb, m, n, k, -0.5f, 1.5f, 3, seed++);
                Check(ta, tb, m, n, k, 2f, 1f, 1, seed++);
            }
    }

    [Fact]
    public void Large_products_cross_every_block_boundary()
    {
        // m = 500 over two threads is two MC row blocks per slice; k = 700 is two depth blocks;
        // the edges leave partial tiles in both directions.
        Check(false, false, 500, 259, 700, 1f, 0f, 0, 1);
        Check(true, true, 259, 301, 520, 2f, 0.25f, 5, 2);
        Check(true, false, 301, 130, 390, -1f, 0f, 2, 3);
        Check(false, true, 90, 420, 200, 0.5f, -1f, 0, 4);
        // n = 3100 crosses the NC column block; few rows make the threads split columns.
        Check(false, false, 13, 3100, 40, 1f, 0f, 1, 5);
        Check(false, true, 7, 3100, 33, 1f, 0.5f, 0, 6);
    }

    [Fact]
    public void Result_does_not_depend_on_the_thread_count()
    {
        var r = new Random(7);
        int m = 333, n = 290, k = 410;
        var a = Random(r, m * k);
        var b = Random(r, k * n);
        var parallel = new float[m * n];
        var serial = new float[m * n];
        Sgemm.Multiply(false, false, m, n, k, 1, a, k, b, n, 0, parallel, n);
        bool outer = Sgemm.InParallelWorker;
        Sgemm.InParallelWorker = true;   // thread-local: forces this call onto this thread alone
        try { Sgemm.Multiply(false, false, m, n, k, 1, a, k, b, n, 0, serial, n); }
        finally { Sgemm.InParallelWorker = outer; }
        // Every C element is accumulated over the same depth blocks in the same order either way.
        Assert.Equal(serial, parallel);
    }

    [Fact]
    public void Alpha_zero_or_k_zero_only_scales_C()
    {
        var r = new Random(8);
        var a = Random(r, 40 * 40);
        var c0 = Random(r, 40 * 40);
        var c = (float[])c0.Clone();
        Sgemm.Multiply(false, false, 40, 40, 40, 0f, a, 40, a, 40, 2f, c, 40);
        Assert.Equal(c0.Select(x => 2 * x), c);
        Array.Fill(c, float.NaN);
        Sgemm.Multiply(false, false, 40, 40, 0, 1f, [], 1, [], 40, 0f, c, 40);
        Assert.All(c, x => Assert.Equal(0f, x));
    }

    [Theory]
    [InlineData(6, 24, 20, 16, false, false)]    // small items: spread over threads by item
    [InlineData(3, 150, 140, 130, true, false)]  // large items: each parallel inside
    [InlineData(5, 17, 9, 33, false, true)]
    [InlineData(4, 31, 45, 29, true, true)]
    public void Batched_strided_matches_float64(int batch, int m, int n, int k, bool ta, bool tb)
    {
        var r = new Random(batch * 1000 + m);
        int lda = (ta ? m : k) + 1, ldb = tb ? k : n, ldc = n + 2;
        long sizeA = (long)(ta ? k : m) * lda, sizeC = (long)m * ldc;
        long strideA = sizeA + 5, strideB = 0, strideC = sizeC + 3;   // gaps between matrices; one B shared by all
        var a = Random(r, (batch - 1) * strideA + sizeA);
        var b = Random(r, (long)(tb ? n : k) * ldb);
        var c0 = Random(r, (batch - 1) * strideC + sizeC);
        var c = (float[])c0.Clone();

        Sgemm.MultiplyBatched(ta, tb, m, n, k, 1.5f, a, lda, strideA, b, ldb, strideB, 0.5f, c, ldc, strideC, batch);

        for (int i = 0; i < batch; i++)
        {
            var want = Reference(ta, tb, m, n, k, 1.5, a, i * strideA, lda, b, 0, ldb, 0.5, c0, i * strideC, ldc);
            double rel = RelativeError(want, c, i * strideC, m, n, ldc);
            Assert.True(rel < Tolerance(k), $"batch item {i}: relative error {rel:E2} >= {Tolerance(k):E2}");
        }
        // The gaps between the C matrices are not part of any product.
        for (int i = 0; i + 1 < batch; i++)
            for (long g = i * strideC + sizeC; g < (i + 1) * strideC; g++)
                Assert.Equal(c0[g], c[g]);
    }

    [Fact]
    public void Batched_with_beta_zero_ignores_NaN_in_C()
    {
        var r = new Random(11);
        int m = 9, n = 10, k = 11, batch = 3;
        var a = Random(r, batch * m * k);
        var b = Random(r, batch * k * n);
        var c = new float[batch * m * n];
        Array.Fill(c, float.NaN);
        Sgemm.MultiplyBatched(false, false, m, n, k, 1, a, k, m * k, b, n, k * n, 0, c, n, m * n, batch);
        for (int i = 0; i < batch; i++)
        {
            var want = Reference(false, false, m, n, k, 1, a, i * m * k, k, b, i * k * n, n, 0, c, 0, n);
            Assert.True(RelativeError(want, c, i * m * n, m, n, n) < Tolerance(k));
        }
    }

    [Fact]
    public void Avx2_micro_kernel_matches_float64_on_packed_panels()
    {
        Assert.SkipUnless(Vector256.IsHardwareAccelerated, "this CPU has no 256-bit SIMD, so the AVX2 micro-kernel never runs here");
        // The AVX2 kernel is the fallback on CPUs without AVX-512; call it directly so it is
        // checked on AVX-512 machines too.
        var r = new Random(12);
        int kc = 37;
        var a = Random(r, 6 * kc);                  // A as stored, 6×kc
        var b = Random(r, kc * 16);                 // B as stored, kc×16
        var c0 = Random(r, 6 * 20);                 // C 6×16 inside rows of 20
        var c = (float[])c0.Clone();
        unsafe
        {
            float* pa = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(6 * (nuint)kc * 4, 64);
            float* pb = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(16 * (nuint)kc * 4, 64);
            try
            {
                fixed (float* sa = a, sb = b, sc = c)
                {
                    Sgemm.PackA(false, sa, kc, 0, 6, 0, kc, pa, 6);
                    Sgemm.PackB(false, sb, 16, 0, kc, 0, 16, pb, 16);
                    Sgemm.Kernel6x16(kc, pa, pb, sc, 20, 0.75f, -2f);
                }
            }
            finally
            {
                System.Runtime.InteropServices.NativeMemory.AlignedFree(pa);
                System.Runtime.InteropServices.NativeMemory.AlignedFree(pb);
            }
        }
        var want = Reference(false, false, 6, 16, kc, 0.75, a, 0, kc, b, 0, 16, -2, c0, 0, 20);
        Assert.True(RelativeError(want, c, 0, 6, 16, 20) < Tolerance(kc));
    }

    [Fact]
    public void Bad_arguments_say_what_is_wrong_and_what_to_pass()
    {
        var x = new float[100];
        var e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2));
        Assert.Contains("m=-1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 4, 4, 4, 1, x, 3, x, 4, 0, x, 4));
        Assert.Contains("lda=3", e.Message);
        Assert.Contains("at least 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(true, false, 5, 4, 3, 1, x, 4, x, 4, 0, x, 4));
        Assert.Contains("lda=4", e.Message);   // Aᵀ is stored 3×5, so its rows are 5 long
        e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, true, 4, 6, 4, 1, x, 4, x, 3, 0, x, 6));
        Assert.Contains("ldb=3", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 4, 6, 4, 1, x, 4, x, 6, 0, x, 5));
        Assert.Contains("ldc=5", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 20, 20, 20, 1, x, 20, x, 20, 0, x, 20));
        Assert.Contains("A holds 100 floats", e.Message);
        Assert.Contains("needs 400", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 2, 2, 2, 1, x, 2, x, 2, 0, new float[3], 2));
        Assert.Contains("C holds 3 floats", e.Message);

        e = Assert.Throws<ArgumentException>(() => Sgemm.MultiplyBatched(false, false, 2, 2, 2, 1, x, 2, 4, x, 2, 4, 0, x, 2, 4, -1));
        Assert.Contains("batch=-1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.MultiplyBatched(false, false, 2, 2, 2, 1, x, 2, 4, x, 2, 4, 0, x, 2, 2, 3));
        Assert.Contains("strideC=2", e.Message);
        e = Assert.Throws<ArgumentException>(() => Sgemm.MultiplyBatched(false, false, 2, 2, 2, 1, x, 2, 50, x, 2, 4, 0, x, 2, 4, 3));
        Assert.Contains("3 matrices at stride 50 need 104", e.Message);

        var range = Assert.Throws<ArgumentOutOfRangeException>(() => Sgemm.MaxDegreeOfParallelism = 0);
        Assert.Contains("at least 1", range.Message);
    }
}
