using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;
using static Engine.Tests.Kernels.KernelTestSupport;

namespace Engine.Tests.Kernels;

/// <summary>
/// The bf16 memory kernels against float64 references, on the CPU accelerator at warp sizes 4 and 32
/// and on a CUDA GPU where there is one (skipped visibly elsewhere). Outputs are poisoned with NaN first.
/// </summary>
public class MemoryKernelsTests
{
    public static TheoryData<string> Accelerators() => new("cpu4", "cpu32", "cuda");

    private static BFloat16[] Random(Random rng, int n, double scale = 3) =>
        Enumerable.Range(0, n).Select(_ => (BFloat16)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    private static double RelativeError(double[] expected, BFloat16[] actual)
    {
        double diff = 0, norm = 0;
        for (int k = 0; k < expected.Length; k++)
        {
            Assert.False(BFloat16.IsNaN(actual[k]), $"element {k} is NaN: never written");
            diff += Math.Pow(expected[k] - (float)actual[k], 2);
            norm += expected[k] * expected[k];
        }
        return Math.Sqrt(diff / norm);
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void CopyIsExact(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        BFloat16[] x = Random(rng, 8 * 1000);
        using var source = acc.Allocate<BFloat16>(x);
        using var destination = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, x.Length).ToArray());
        MemoryKernels.Copy(acc, source.View, destination.View);
        Assert.Equal(x.Select(v => v.RawValue), destination.GetAsArray().Select(v => v.RawValue));
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AddRoundsTheFp32SumOnce(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        int n = 8 * 777;
        BFloat16[] a = Random(rng, n), b = Random(rng, n);
        using var va = acc.Allocate<BFloat16>(a);
        using var vb = acc.Allocate<BFloat16>(b);
        using var sum = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, n).ToArray());
        MemoryKernels.Add(acc, va.View, vb.View, sum.View);
        BFloat16[] result = sum.GetAsArray();
        for (int k = 0; k < n; k++)
        {
            // The sum of two bf16 values is exact in fp32, so one rounding to bf16: bit-exact.
            Assert.Equal(((BFloat16)((float)a[k] + (float)b[k])).RawValue, result[k].RawValue);
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void RmsNormMatchesFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        // Four-pack and eight-pack specialisations, rows that fill them partly and wholly, and the
        // looping path for rows too wide for registers (at warp size 4 most of these are).
        foreach (var (rows, width) in new[] { (5, 72), (3, 1280), (2, 8), (4, 1024), (3, 2048), (2, 4096) })
        {
            BFloat16[] x = Random(rng, rows * width, 4);
            using var vx = acc.Allocate<BFloat16>(x);
            using var vy = acc.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, x.Length).ToArray());
            using var rstd = acc.Allocate<float>(Enumerable.Repeat(float.NaN, rows).ToArray());
            MemoryKernels.RmsNorm(acc, vx.View, vy.View, rstd.View, width);
            double[] expected = new double[x.Length];
            float[] r = rstd.GetAsArray();
            for (int row = 0; row < rows; row++)
            {
                double meanSquare = 0;
                for (int c = 0; c < width; c++)
                {
                    meanSquare += Math.Pow((float)x[row * width + c], 2) / width;
                }
                double scale = 1 / Math.Sqrt(meanSquare + MemoryKernels.RmsNormEpsilon);
                Assert.True(Math.Abs(r[row] - scale) <= 1e-6 * scale, $"rstd of row {row}: {r[row]} vs {scale}");
                for (int c = 0; c < width; c++)
                {
                    expected[row * width + c] = (float)x[row * width + c] * scale;
                }
            }
            // bf16 output: half an ulp is 2^-9 relative; the norm of the error sits well below it.
            double error = RelativeError(expected, vy.GetAsArray());
            Assert.True(error < 2.5e-3, $"{rows}x{width} on {acc.Name}: relative error {error:E2}");
        }
    }

    [Fact]
    public void KernelsMove16BytesPerAccessAndKeepRowsInRegisters()
    {
        var flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static;
        Type[] packs = [typeof(MemoryKernels).Assembly.GetType("Engine.Kernels.FourPacks")!, typeof(MemoryKernels).Assembly.GetType("Engine.Kernels.EightPacks")!];
        foreach (var method in new[]
        {
            typeof(MemoryKernels).GetMethod("CopyKernel", flags)!,
            typeof(MemoryKernels).GetMethod("AddKernel", flags)!,
            typeof(MemoryKernels).GetMethod("RmsNormKernel", flags)!.MakeGenericMethod(packs[0]),
            typeof(MemoryKernels).GetMethod("RmsNormKernel", flags)!.MakeGenericMethod(packs[1]),
        })
        {
            string ptx = Engine.Gpu.Ptx.PtxEmitter.Emit(KernelCompiler.Compile(method).Function, new Engine.Gpu.Ptx.PtxTarget(90), "kernel");
            Assert.Contains("ld.global.v4.u32", ptx);
            Assert.Contains("st.global.v4.u32", ptx);
            Assert.DoesNotContain(".local", ptx); // The register array of RMSNorm's row stays in registers.
        }
    }

    [Fact]
    public void BadShapesSayWhatIsWrong()
    {
        using var acc = new CpuAccelerator(32);
        using var x = acc.Allocate<BFloat16>(24);
        using var y = acc.Allocate<BFloat16>(16);
        using var rstd = acc.Allocate<float>(3);
        var e = Assert.Throws<ArgumentException>(() => MemoryKernels.Add(acc, x.View, y.View, x.View));
        Assert.Contains("has 16 elements, but the first operand has 24", e.Message);
        e = Assert.Throws<ArgumentException>(() => MemoryKernels.RmsNorm(acc, x.View, x.View, rstd.View, 12));
        Assert.Contains("multiple of 8", e.Message);
        e = Assert.Throws<ArgumentException>(() => MemoryKernels.RmsNorm(acc, x.View, x.View, y.View.Cast<float>().SubView(0, 2), 8));
        Assert.Contains("rstd has 2 elements; x has 3 rows", e.Message);
        using var odd = acc.Allocate<BFloat16>(12);
        e = Assert.Throws<ArgumentException>(() => MemoryKernels.Copy(acc, odd.View, odd.View));
        Assert.Contains("multiple of 8", e.Message);
    }
}
