using Engine.Gpu;
using Engine.Kernels;
using static Engine.Tests.Kernels.KernelTestSupport;

namespace Engine.Tests.Kernels;

/// <summary>
/// The fp32 batched, strided GEMM against a float64 product of the same inputs, on the CPU accelerator
/// at warp sizes 4 and 32 and on CUDA where present (skipped visibly elsewhere). Inputs are fresh random
/// values each run; c is poisoned with NaN first wherever beta is 0, and every element of c's buffer
/// that no batch entry covers (row padding past n, gaps between matrices) must come back bit for bit.
/// </summary>
public class FloatGemmTests
{
    public static TheoryData<string> Accelerators() => new("cpu4", "cpu32", "cuda");

    public static TheoryData<string, bool, bool> TransposeCases()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (string kind in new[] { "cpu4", "cpu32", "cuda" })
        {
            foreach (bool transA in new[] { false, true })
            {
                foreach (bool transB in new[] { false, true })
                {
                    data.Add(kind, transA, transB);
                }
            }
        }
        return data;
    }

    /// <summary>fp32 accumulation of at most a few hundred terms: a relative error norm far below this; a wrong or missing term is far above.</summary>
    private const double Tolerance = 2e-6;

    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static long Base(GemmOperand p, int z) =>
        p.Offset + (long)(z / p.InnerCount) * p.OuterStride + (long)(z % p.InnerCount / p.InnerDivisor) * p.InnerStride;

    /// <summary>The smallest buffer holding every matrix of the layout (stored rows x cols each).</summary>
    private static int Extent(GemmOperand p, int batch, int rows, int cols) =>
        batch == 0 || rows == 0 || cols == 0 ? 0 : (int)(Enumerable.Range(0, batch).Max(z => Base(p, z)) + (long)(rows - 1) * p.Ld + cols);

    /// <summary>
    /// Runs one product on <paramref name="acc"/> and checks it: the covered elements of c against float64,
    /// the rest of c's buffer unchanged. Returns the relative error norm.
    /// </summary>
    private static double Check(Accelerator acc, int batch, int m, int n, int k, float alpha, float beta,
        GemmOperand aLayout, bool transA, GemmOperand bLayout, bool transB, GemmOperand cLayout, string what, int cSlack = 0)
    {
        var rng = new Random(Environment.TickCount ^ what.GetHashCode());
        float[] a = Random(rng, Math.Max(1, Extent(aLayout, batch, transA ? k : m, transA ? m : k)));
        float[] b = Random(rng, Math.Max(1, Extent(bLayout, batch, transB ? n : k, transB ? k : n)));
        int cLength = Math.Max(1, Extent(cLayout, batch, m, n)) + cSlack;
        // c: random where it is read (beta != 0), NaN where it must not be; the uncovered elements hold
        // random values either way, to be found again untouched.
        float[] c0 = Random(rng, cLength);
        var covered = new bool[cLength];
        for (int z = 0; z < batch; z++)
        {
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    long at = Base(cLayout, z) + (long)i * cLayout.Ld + j;
                    covered[at] = true;
                    if (beta == 0)
                    {
                        c0[at] = float.NaN;
                    }
                }
            }
        }
        using var va = acc.Allocate<float>(a);
        using var vb = acc.Allocate<float>(b);
        using var vc = acc.Allocate<float>(c0);
        FloatGemm.Multiply(acc, batch, m, n, k, alpha, va.View, aLayout, transA, vb.View, bLayout, transB, beta, vc.View, cLayout);
        float[] c = vc.GetAsArray();

        double diff = 0, norm = 0;
        for (int z = 0; z < batch; z++)
        {
            long baseA = Base(aLayout, z), baseB = Base(bLayout, z), baseC = Base(cLayout, z);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double x = a[baseA + (transA ? (long)p * aLayout.Ld + i : (long)i * aLayout.Ld + p)];
                        double y = b[baseB + (transB ? (long)j * bLayout.Ld + p : (long)p * bLayout.Ld + j)];
                        sum += x * y;
                    }
                    long at = baseC + (long)i * cLayout.Ld + j;
                    double expected = alpha * sum + (beta == 0 ? 0 : beta * (double)c0[at]);
                    Assert.False(float.IsNaN(c[at]), $"{what}: c[{z}][{i},{j}] is NaN: never written, or c read although beta is 0");
                    diff += (expected - c[at]) * (expected - c[at]);
                    norm += expected * expected;
                }
            }
        }
        for (int i = 0; i < cLength; i++)
        {
            if (!covered[i])
            {
                Assert.True(BitConverter.SingleToInt32Bits(c[i]) == BitConverter.SingleToInt32Bits(c0[i]), $"{what}: c's element {i}, outside every matrix, was overwritten");
            }
        }
        double error = norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
        Assert.True(error < Tolerance, $"{what} on {acc.Name}: relative error norm {error:E2}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: relative error norm {error:E2}");
        return error;
    }

    private static GemmOperand Dense(int ld, int matrixStride = 0) => new(0, ld, matrixStride);

    [Theory]
    [MemberData(nameof(TransposeCases))]
    public void EveryTransposeCaseMatchesFloat64AtRaggedSizes(string kind, bool transA, bool transB)
    {
        using Accelerator acc = Make(kind);
        string t = $"A{(transA ? "ᵀ" : "")}·B{(transB ? "ᵀ" : "")}";
        foreach (var (m, n, k, pad) in new[] { (37, 45, 19, 0), (70, 130, 33, 5), (64, 128, 48, 2) })
        {
            // Stored shapes: a is m x k (k x m when transposed), b is k x n (n x k); pad widens every Ld and
            // starts each operand a few elements in.
            var aLayout = new GemmOperand(pad, (transA ? m : k) + pad);
            var bLayout = new GemmOperand(2 * pad, (transB ? k : n) + pad);
            var cLayout = new GemmOperand(pad, n + pad);
            Check(acc, 1, m, n, k, 1f, 0f, aLayout, transA, bLayout, transB, cLayout, $"{t} {m}x{n}x{k}, Ld padding {pad}", cSlack: 3);
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ABatchWithPlainStridesMatchesFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        int batch = 3, m = 33, n = 40, k = 21;
        // Each matrix followed by a gap of 7 unused elements; b stored n x k (a linear layer's weight).
        Check(acc, batch, m, n, k, 1f, 0f, Dense(k, m * k + 7), false, Dense(k, n * k + 7), true, Dense(n, m * n + 7), "batch of 3, strided");
        Check(acc, batch, m, n, k, 1f, 0f, Dense(m, k * m), true, Dense(n, k * n), false, Dense(n + 2, m * (n + 2)), "batch of 3, Aᵀ·B");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ABatchSharingOneOperandMatchesFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        int batch = 4, m = 20, n = 67, k = 24;
        // One weight (OuterStride 0) for every batch entry, and one left operand for every entry the other way round.
        Check(acc, batch, m, n, k, 1f, 0f, Dense(k, m * k), false, Dense(k), true, Dense(n, m * n), "shared b");
        Check(acc, batch, m, n, k, 1f, 0f, Dense(k), false, Dense(n, k * n), false, Dense(n, m * n), "shared a");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AttentionsLayoutsWithGroupedKeyHeadsMatchFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        // q (B, T, H, D) and k, v (B, T, Hkv, D), two query heads per key head; z = b·H + h.
        int batchSize = 2, tokens = 70, heads = 4, kvHeads = 2, dim = 16;
        int batch = batchSize * heads;
        var q = new GemmOperand(0, heads * dim, tokens * heads * dim, heads, dim);
        var kv = new GemmOperand(0, kvHeads * dim, tokens * kvHeads * dim, heads, dim, heads / kvHeads);
        // S = Q·Kᵀ into (B, H, T, T), scaled as attention scales it.
        Check(acc, batch, tokens, tokens, dim, 0.25f, 0f, q, false, kv, true, Dense(tokens, tokens * tokens), "scores Q·Kᵀ");
        // O = P·V from (B, H, T, T) into (B, T, H, D), the queries' layout.
        Check(acc, batch, tokens, dim, tokens, 1f, 0f, Dense(tokens, tokens * tokens), false, kv, false, q, "output P·V");
        // dK's share: dSᵀ·Q per head, from (B, H, T, T) and q into a (B, T, H, D) gradient.
        Check(acc, batch, tokens, dim, tokens, 1f, 0f, Dense(tokens, tokens * tokens), true, q, false, q, "dSᵀ·Q");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AlphaAndBetaBlendTheProductIntoC(string kind)
    {
        using Accelerator acc = Make(kind);
        int m = 57, n = 115, k = 37;
        Check(acc, 2, m, n, k, -0.75f, 1.5f, Dense(k, m * k), false, Dense(k, n * k), true, Dense(n + 1, m * (n + 1)), "alpha -0.75, beta 1.5");
        Check(acc, 1, m, n, k, 2f, 0f, Dense(m), true, Dense(k), true, Dense(n), "alpha 2, beta 0 over NaN");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void EmptyProductsScaleCOrLeaveItAlone(string kind)
    {
        using Accelerator acc = Make(kind);
        // k = 0: c = beta·c, zeros when beta is 0 (c poisoned); m or n = 0: nothing is touched.
        Check(acc, 2, 13, 70, 0, 1f, 0f, Dense(0), false, Dense(70), false, Dense(70, 13 * 70), "k = 0, beta 0");
        Check(acc, 2, 13, 70, 0, 1f, 2f, Dense(13), true, Dense(0), true, Dense(70, 13 * 70), "k = 0, beta 2");
        using var one = acc.Allocate<float>(new[] { 5f });
        using var operand = acc.Allocate<float>(20);
        FloatGemm.Multiply(acc, 3, 0, 4, 5, 1f, operand.View, Dense(5), false, operand.View, Dense(4), false, 0f, one.View, Dense(4));
        FloatGemm.Multiply(acc, 3, 4, 0, 5, 1f, operand.View, Dense(5), false, operand.View, Dense(5), true, 0f, one.View, Dense(0));
        FloatGemm.Multiply(acc, 0, 4, 4, 5, 1f, one.View, Dense(5), false, one.View, Dense(4), false, 0f, one.View, Dense(4));
        Assert.Equal(5f, one.GetAsArray()[0]);
    }

    [Fact]
    public void TheLauncherNamesTheOperandThatDoesNotFit()
    {
        using var acc = new CpuAccelerator(4);
        int m = 8, n = 6, k = 5;
        using var a = acc.Allocate<float>(m * k);
        using var b = acc.Allocate<float>(k * n);
        using var c = acc.Allocate<float>(m * n);
        using var shortView = acc.Allocate<float>(m * n - 1);
        void Run(ArrayView<float> va, GemmOperand la, ArrayView<float> vb, GemmOperand lb, ArrayView<float> vc, GemmOperand lc, int batch = 1, bool transA = false) =>
            FloatGemm.Multiply(acc, batch, m, n, k, 1f, va, la, transA, vb, lb, false, 0f, vc, lc);

        var e = Assert.Throws<ArgumentException>(() => Run(a.View, Dense(k), b.View, Dense(n), shortView.View, Dense(n)));
        Assert.Equal("c", e.ParamName);
        Assert.Contains($"{m * n - 1} elements", e.Message);
        Assert.Contains("m 8, n 6, k 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => Run(a.View, Dense(k), b.View, Dense(n), c.View, Dense(n), transA: true)); // k x m needs Ld >= 8
        Assert.Equal("a", e.ParamName);
        Assert.Contains("Ld 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => Run(a.View, Dense(k), b.View, new GemmOperand(1, n), c.View, Dense(n)));
        Assert.Equal("b", e.ParamName);
        Assert.Contains($"reaches element {k * n}", e.Message);
        Assert.Throws<ArgumentException>(() => FloatGemm.Multiply(acc, 1, -1, n, k, 1f, a.View, Dense(k), false, b.View, Dense(n), false, 0f, c.View, Dense(n)));
        Assert.Throws<ArgumentException>(() => Run(a.View, new GemmOperand(0, k, InnerCount: 0), b.View, Dense(n), c.View, Dense(n)));

        // base(z) not monotone: z = 2 (outer 0, inner 2) lies beyond z = 3 (outer 1, inner 0). A view that
        // holds z = 3's matrix but not z = 2's must be refused, and one just long enough accepted.
        var layout = new GemmOperand(0, k, OuterStride: 10, InnerCount: 3, InnerStride: 100);
        int needed = 200 + (m - 1) * k + k;
        using var justEnough = acc.Allocate<float>(needed);
        using var oneShort = acc.Allocate<float>(needed - 1);
        using var c4 = acc.Allocate<float>(4 * m * n);
        Run(justEnough.View, layout, b.View, Dense(n), c4.View, Dense(n, m * n), batch: 4);
        e = Assert.Throws<ArgumentException>(() => Run(oneShort.View, layout, b.View, Dense(n), c4.View, Dense(n, m * n), batch: 4));
        Assert.Equal("a", e.ParamName);
        Assert.Contains($"reaches element {needed - 1}", e.Message);
    }

    [Fact]
    public void TheLargestBaseIsFoundExactly()
    {
        var rng = new Random(Environment.TickCount);
        for (int trial = 0; trial < 2000; trial++)
        {
            var layout = new GemmOperand(rng.Next(0, 5), 1, rng.Next(0, 50), rng.Next(1, 6), rng.Next(0, 50), rng.Next(1, 4));
            int batch = rng.Next(1, 30);
            long brute = Enumerable.Range(0, batch).Max(z => Base(layout, z));
            Assert.True(brute == FloatGemm.MaxBase(layout, batch), $"{layout}, batch {batch}: brute force {brute}, MaxBase {FloatGemm.MaxBase(layout, batch)}");
        }
    }
}
