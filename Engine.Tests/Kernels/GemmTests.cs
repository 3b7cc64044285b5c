using System.Reflection;
using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;

namespace Engine.Tests.Kernels;

/// <summary>
/// The tensor-core GEMM against a float64 product of the same bf16 inputs: on the CPU accelerator
/// (the fragment layouts' CPU meanings) and on a CUDA GPU where there is one (skipped visibly
/// elsewhere); C is poisoned with NaN first.
/// </summary>
public class GemmTests
{
    private static BFloat16[] Random(Random rng, int n) =>
        Enumerable.Range(0, n).Select(_ => (BFloat16)(rng.NextDouble() * 2 - 1)).ToArray();

    /// <summary>
    /// Runs C = A·Bᵀ and returns the relative error norm against float64, and that of the float64 product
    /// merely rounded to bf16: the best any bf16 output can do.
    /// </summary>
    internal static (double Error, double Floor) RunAndCompare(Accelerator acc, int m, int n, int k, int seed, bool aTransposed = false, bool bTransposed = true)
    {
        var rng = new Random(seed);
        BFloat16[] a = Random(rng, m * k), b = Random(rng, n * k);
        using var va = acc.Allocate<BFloat16>(a);
        using var vb = acc.Allocate<BFloat16>(b);
        using var vc = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, m * n).ToArray());
        TensorCoreGemm.Bf16(acc, va.View, aTransposed, vb.View, bTransposed, vc.View, m, n, k);
        BFloat16[] c = vc.GetAsArray();
        // A(i, p) and B(p, j) of the product, wherever the layout keeps them.
        float A(int i, int p) => a[aTransposed ? p * m + i : i * k + p];
        float B(int p, int j) => b[bTransposed ? j * k + p : p * n + j];
        double diff = 0, norm = 0, floor = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double expected = 0;
                for (int p = 0; p < k; p++)
                {
                    expected += (double)A(i, p) * B(p, j);
                }
                float actual = c[i * n + j];
                Assert.False(float.IsNaN(actual), $"C[{i},{j}] was never written");
                diff += (expected - actual) * (expected - actual);
                norm += expected * expected;
                double rounded = (float)(BFloat16)expected;
                floor += (expected - rounded) * (expected - rounded);
            }
        }
        return (Math.Sqrt(diff / norm), Math.Sqrt(floor / norm));
    }

    public static TheoryData<bool, bool, int, int, int> Layouts() => new()
    {
        // aTransposed, bTransposed, M, N, K: the backward pass's products at each tile the shape picks.
        { false, false, 256, 128, 160 },  // dX = dY·W, 128x128x32, two row blocks
        { false, false, 128, 256, 192 },  // NN through the wide 128x256x64 tile
        { true, false, 128, 384, 128 },   // dW = dYᵀ·X, 128x128x64, three column blocks
        { true, false, 256, 128, 96 },    // TN at 32 deep
        { true, true, 128, 128, 64 },     // Aᵀ·Bᵀ, for completeness
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void EveryTransposeCaseMatchesFloat64OnTheCpuAccelerator(bool aTransposed, bool bTransposed, int m, int n, int k)
    {
        using var cpu = new CpuAccelerator(32);
        var (error, floor) = RunAndCompare(cpu, m, n, k, Environment.TickCount, aTransposed, bTransposed);
        Assert.True(error < floor * 1.02 + 1e-6, $"{m}x{n}x{k} (A{(aTransposed ? "ᵀ" : "")}·B{(bTransposed ? "ᵀ" : "")}): relative error norm {error:E2}, rounding alone {floor:E2}");
    }

    [Fact]
    public void EveryTransposeCaseMatchesFloat64OnCuda()
    {
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
        using var gpu = new CudaAccelerator();
        foreach (var (aT, bT) in new[] { (false, false), (true, false), (true, true) })
        {
            foreach (var (m, n, k) in new[] { (512, 384, 1024), (384, 512, 160), (256, 512, 2048) })
            {
                var (error, floor) = RunAndCompare(gpu, m, n, k, Environment.TickCount, aT, bT);
                Assert.True(error < floor * 1.02 + 1e-6, $"{m}x{n}x{k} (aT={aT}, bT={bT}) on {gpu.Name}: relative error norm {error:E2}, rounding alone {floor:E2}");
            }
        }
    }

    [Fact]
    public void MatchesFloat64OnTheCpuAccelerator()
    {
        // Each tile the shape picks, with enough k-tiles that the 3-stage pipeline wraps around: 128x128x32
        // (K = 160, two row blocks), 128x128x64 (N = 384, three column blocks) and 128x256x64.
        using var cpu = new CpuAccelerator(32);
        foreach (var (m, n, k) in new[] { (256, 128, 160), (128, 384, 256), (128, 256, 320) })
        {
            var (error, floor) = RunAndCompare(cpu, m, n, k, Environment.TickCount);
            // fp32 accumulation then one bf16 rounding: within a hair of rounding the exact product.
            Assert.True(error < floor * 1.02 + 1e-6, $"{m}x{n}x{k}: relative error norm {error:E2}, rounding alone {floor:E2}");
            TestContext.Current.TestOutputHelper?.WriteLine($"CPU accelerator, {m}x{n}x{k}: relative error {error:E2}, rounding alone {floor:E2}");
        }
    }

    [Fact]
    public void MatchesFloat64OnCuda()
    {
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
        using var gpu = new CudaAccelerator();
        foreach (var (m, n, k) in new[] { (256, 128, 160), (512, 384, 1024), (128, 256, 320), (384, 512, 2048) })
        {
            var (error, floor) = RunAndCompare(gpu, m, n, k, Environment.TickCount);
            Assert.True(error < floor * 1.02 + 1e-6, $"{m}x{n}x{k} on {gpu.Name}: relative error norm {error:E2}, rounding alone {floor:E2}");
        }
    }

    [Fact]
    public void PtxUsesTensorCoresLdmatrixAndAsyncCopiesWithoutLocalMemory()
    {
        MethodInfo generic = typeof(TensorCoreGemm).GetMethod("Bf16Kernel", BindingFlags.NonPublic | BindingFlags.Static)!;
        foreach (var (depth, mmas) in new[] { ("Tile128x128x32", 32), ("Tile128x128x64", 64), ("Tile128x256x64", 128) })
        {
            foreach (var (layoutA, layoutB) in new[] { (typeof(KInner), typeof(KInner)), (typeof(KInner), typeof(KOuter)), (typeof(KOuter), typeof(KOuter)) })
            {
                MethodInfo kernel = generic.MakeGenericMethod(typeof(TensorCoreGemm).Assembly.GetType("Engine.Kernels." + depth)!, layoutA, layoutB, typeof(PlainEpilogue));
                string ptx = Engine.Gpu.Ptx.PtxEmitter.Emit(KernelCompiler.Compile(kernel).Function, new Engine.Gpu.Ptx.PtxTarget(90), "kernel");
                Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", ptx);
                Assert.Contains("ldmatrix.sync.aligned.m8n8.x4.shared.b16", ptx.Replace(".trans", "", StringComparison.Ordinal));
                Assert.Equal(layoutA == typeof(KOuter) || layoutB == typeof(KOuter), ptx.Contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", StringComparison.Ordinal));
                Assert.Contains("cp.async.cg.shared.global", ptx);
                Assert.DoesNotContain(".local", ptx); // 64 or 128 accumulators a lane stay in registers.
                Assert.Equal(mmas, System.Text.RegularExpressions.Regex.Matches(ptx, @"mma\.sync").Count); // 16 tiles x k16 steps, unrolled.
                if (Environment.GetEnvironmentVariable("ENGINE_PTX_DUMP") is { Length: > 0 } dump)
                {
                    // For reading the SASS on a machine with the CUDA toolkit (docs/gpu/README.md).
                    Directory.CreateDirectory(dump);
                    File.WriteAllText(Path.Combine(dump, $"gemm-{depth}-{layoutA.Name}-{layoutB.Name}.ptx"), ptx);
                }
            }
        }
    }

    [Fact]
    public void TheSharedMemorySwizzleIsFreeOfBankConflicts()
    {
        // Shared memory serves 128 bytes a cycle: eight 16-byte bank groups. An ldmatrix phase reads eight
        // 16-byte rows at one chunk column, and eight consecutive threads' cp.async writes fill eight
        // consecutive chunks: each must touch eight different groups, and each row must keep every chunk.
        CheckSwizzle(TensorCoreGemm.Swizzled<Tile128x128x32>, chunksPerRow: 4);
        CheckSwizzle(TensorCoreGemm.Swizzled<Tile128x128x64>, chunksPerRow: 8);
        CheckSwizzle(TensorCoreGemm.Swizzled<Tile128x256x64>, chunksPerRow: 8);
    }

    private static void CheckSwizzle(Func<int, int, int> swizzled, int chunksPerRow)
    {
        for (int row = 0; row < 256; row++)
        {
            var placed = Enumerable.Range(0, chunksPerRow).Select(c => swizzled(row, c)).ToHashSet();
            Assert.Equal(Enumerable.Range(row * chunksPerRow, chunksPerRow), placed.Order());
        }
        for (int first = 0; first < 256; first += 8)
        {
            for (int chunk = 0; chunk < chunksPerRow; chunk++)
            {
                var groups = Enumerable.Range(first, 8).Select(row => swizzled(row, chunk) % 8).Distinct().Count();
                Assert.True(groups == 8, $"rows {first}..{first + 7}, chunk {chunk}: {groups} bank groups (ldmatrix)");
            }
        }
        for (int q = 0; q < 256 * chunksPerRow; q += 8)
        {
            var groups = Enumerable.Range(q, 8).Select(k => swizzled(k / chunksPerRow, k % chunksPerRow) % 8).Distinct().Count();
            Assert.True(groups == 8, $"copies {q}..{q + 7}: {groups} bank groups (cp.async)");
        }
    }

    [Fact]
    public void BadShapesSayWhatIsWrong()
    {
        using var cpu = new CpuAccelerator(32);
        using var a = cpu.Allocate<BFloat16>(128 * 32);
        var e = Assert.Throws<ArgumentException>(() => TensorCoreGemm.Bf16Nt(cpu, a.View, a.View, a.View, 100, 128, 32));
        Assert.Contains("M=100, N=128, K=32", e.Message);
        Assert.Contains("multiples of 128", e.Message);
        e = Assert.Throws<ArgumentException>(() => TensorCoreGemm.Bf16Nt(cpu, a.View, a.View, a.View, 128, 128, 64));
        Assert.Contains("a has 4096 elements; the shape [M=128, K=64] needs 8192", e.Message);
        using var narrow = new CpuAccelerator(4);
        using var x = narrow.Allocate<BFloat16>(128 * 32);
        using var y = narrow.Allocate<BFloat16>(128 * 128);
        e = Assert.Throws<ArgumentException>(() => TensorCoreGemm.Bf16Nt(narrow, x.View, x.View, y.View, 128, 128, 32));
        Assert.Contains("warps of 32 lanes", e.Message);
    }
}
