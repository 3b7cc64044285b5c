using Engine.Cpu;

namespace Engine.Tests.Cpu;

/// <summary>The packed SGEMM against a float64 reference on fresh random inputs.</summary>
public class SgemmTests
{
    private static float[] Random(Random r, int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();

    private static void Check(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad, int seed)
    {
        var r = new Random(seed);
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var a = Random(r, Math.Max(1, (ta ? k : m) * lda));
        var b = Random(r, Math.Max(1, (tb ? n : k) * ldb));
        var c0 = Random(r, Math.Max(1, m * ldc));
        if (beta == 0) Array.Fill(c0, float.NaN);          // beta = 0 must ignore C, NaN included
        var c = (float[])c0.Clone();
        Sgemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        double err = 0, norm = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                double want = alpha * s + (beta == 0 ? 0 : beta * (double)c0[i * ldc + j]);
                err += (c[i * ldc + j] - want) * (c[i * ldc + j] - want);
                norm += want * want;
            }
        double rel = Math.Sqrt(err) / Math.Max(Math.Sqrt(norm), 1e-30);
        double tol = 2e-7 * Math.Sqrt(Math.Max(k, 1)) + 1e-7;
        Assert.True(rel < tol || norm == 0, $"m={m} n={n} k={k} ta={ta} tb={tb} alpha={alpha} beta={beta}: relative error {rel:E2} > {tol:E2}");
        // Padding between rows must be left alone.
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(c[i * ldc + j].Equals(c0[i * ldc + j]), $"padding C[{i},{j}] was overwritten");
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 17, 31, 13 }, { 5, 7, 0 }, { 64, 64, 64 }, { 100, 33, 257 }, { 13, 97, 300 }, { 96, 64, 512 }, { 200, 150, 70 }, { 1, 300, 80 }, { 300, 1, 80 },
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
            }
    }

    [Fact]
    public void Large_square_product_uses_every_path_and_matches()
    {
        // Spans several KC blocks, MC row blocks and a partial tile at both edges.
        Check(false, false, 301, 259, 700, 1f, 0f, 0, 1);
        Check(true, true, 259, 301, 520, 2f, 0.25f, 5, 2);
    }

    [Fact]
    public void Batched_strided_equals_one_call_per_matrix()
    {
        var r = new Random(3);
        int m = 40, n = 50, k = 60, batch = 3;
        var a = Random(r, batch * m * k); var b = Random(r, batch * k * n);
        var c = new float[batch * m * n]; var expected = new float[batch * m * n];
        Sgemm.MultiplyBatched(false, false, m, n, k, 1, a, k, m * k, b, n, k * n, 0, c, n, m * n, batch);
        for (int i = 0; i < batch; i++)
            Sgemm.Multiply(false, false, m, n, k, 1, a.AsSpan(i * m * k), k, b.AsSpan(i * k * n), n, 0, expected.AsSpan(i * m * n), n);
        Assert.Equal(expected, c);
    }

    [Fact]
    public void Bad_arguments_say_what_is_wrong()
    {
        var x = new float[100];
        Assert.Contains("m=-1", Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, -1, 2, 2, 1, x, 2, x, 2, 0, x, 2)).Message);
        Assert.Contains("lda=3", Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 4, 4, 4, 1, x, 3, x, 4, 0, x, 4)).Message);
        Assert.Contains("needs", Assert.Throws<ArgumentException>(() => Sgemm.Multiply(false, false, 20, 20, 20, 1, x, 20, x, 20, 0, x, 20)).Message);
    }
}
