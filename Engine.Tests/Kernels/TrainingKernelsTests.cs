using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;
using static Engine.Tests.Kernels.KernelTestSupport;

namespace Engine.Tests.Kernels;

/// <summary>
/// The training step's memory-bound kernels against float64 references written here, on the CPU
/// accelerator at warp sizes 4 and 32 and on CUDA where present (skipped visibly elsewhere); outputs
/// are poisoned with NaN first. The references' gradients are checked against central differences.
/// </summary>
public class TrainingKernelsTests
{
    public static TheoryData<string> Accelerators() => new("cpu4", "cpu32", "cuda");

    private static BFloat16[] Random(Random rng, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => (BFloat16)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    private static BFloat16[] Poison(int n) => Enumerable.Repeat(BFloat16.NaN, n).ToArray();

    // ---- float64 references ----

    private static double[] RmsNormReference(double[] x, int width, out double[] rstd)
    {
        int rows = x.Length / width;
        var y = new double[x.Length];
        rstd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double ms = 0;
            for (int c = 0; c < width; c++)
            {
                ms += x[r * width + c] * x[r * width + c];
            }
            rstd[r] = 1 / Math.Sqrt(ms / width + MemoryKernels.RmsNormEpsilon);
            for (int c = 0; c < width; c++)
            {
                y[r * width + c] = x[r * width + c] * rstd[r];
            }
        }
        return y;
    }

    private static double[] RmsNormBackwardReference(double[] x, double[] dy, int width)
    {
        RmsNormReference(x, width, out double[] rstd);
        var dx = new double[x.Length];
        for (int r = 0; r < rstd.Length; r++)
        {
            double dot = 0;
            for (int c = 0; c < width; c++)
            {
                dot += dy[r * width + c] * x[r * width + c];
            }
            double rr = rstd[r];
            for (int c = 0; c < width; c++)
            {
                dx[r * width + c] = rr * dy[r * width + c] - x[r * width + c] * rr * rr * rr * dot / width;
            }
        }
        return dx;
    }

    private static double[] CrossEntropyReference(double[] z, int[] targets, int vocab, double cap, double scale, out double[] dz)
    {
        int rows = targets.Length;
        var losses = new double[rows];
        dz = new double[z.Length];
        for (int r = 0; r < rows; r++)
        {
            var zc = Enumerable.Range(0, vocab).Select(j => cap > 0 ? cap * Math.Tanh(z[r * vocab + j] / cap) : z[r * vocab + j]).ToArray();
            double max = zc.Max();
            double lse = max + Math.Log(zc.Sum(v => Math.Exp(v - max)));
            if (targets[r] < 0)
            {
                continue;
            }
            losses[r] = lse - zc[targets[r]];
            for (int j = 0; j < vocab; j++)
            {
                double g = (Math.Exp(zc[j] - lse) - (j == targets[r] ? 1 : 0)) * scale;
                dz[r * vocab + j] = cap > 0 ? g * (1 - zc[j] / cap * (zc[j] / cap)) : g;
            }
        }
        return losses;
    }

    [Fact]
    public void TheReferenceGradientsMatchFiniteDifferences()
    {
        var rng = new Random(Environment.TickCount);
        const double eps = 1e-6;
        // RMSNorm: the directional derivative of Σ dy∘y along a random direction of x.
        int width = 6;
        double[] x = Enumerable.Range(0, 2 * width).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] dy = x.Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] dir = x.Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double L(double[] xx) => RmsNormReference(xx, width, out _).Zip(dy, (a, b) => a * b).Sum();
        double numeric = (L(x.Zip(dir, (a, e) => a + eps * e).ToArray()) - L(x.Zip(dir, (a, e) => a - eps * e).ToArray())) / (2 * eps);
        double analytic = RmsNormBackwardReference(x, dy, width).Zip(dir, (g, e) => g * e).Sum();
        Assert.True(Math.Abs(numeric - analytic) < 1e-7, $"RMSNorm: finite differences {numeric}, reference {analytic}");
        // Softcapped cross-entropy: the derivative of the scaled loss sum along a random direction of z.
        int vocab = 7;
        double[] z = Enumerable.Range(0, 3 * vocab).Select(_ => (rng.NextDouble() * 2 - 1) * 30).ToArray();
        int[] targets = [2, -1, 6];
        double[] dirZ = z.Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double C(double[] zz) => CrossEntropyReference(zz, targets, vocab, 15, 0.5, out _).Sum() * 0.5;
        CrossEntropyReference(z, targets, vocab, 15, 0.5, out double[] dz);
        numeric = (C(z.Zip(dirZ, (a, e) => a + eps * e).ToArray()) - C(z.Zip(dirZ, (a, e) => a - eps * e).ToArray())) / (2 * eps);
        analytic = dz.Zip(dirZ, (g, e) => g * e).Sum();
        Assert.True(Math.Abs(numeric - analytic) < 1e-7, $"cross-entropy: finite differences {numeric}, reference {analytic}");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void RmsNormBackwardMatchesFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        foreach (int width in new[] { 64, 768 })
        {
            int rows = 19;
            BFloat16[] x = Random(rng, rows * width, 3), dy = Random(rng, rows * width, 1);
            RmsNormReference(Wide(x), width, out double[] rstd);
            double[] expected = RmsNormBackwardReference(Wide(x), Wide(dy), width);
            using var vx = acc.Allocate<BFloat16>(x);
            using var vdy = acc.Allocate<BFloat16>(dy);
            using var vr = acc.Allocate<float>(rstd.Select(v => (float)v).ToArray());
            using var vdx = acc.Allocate<BFloat16>(Poison(x.Length));
            TrainingKernels.RmsNormBackward(acc, vx.View, vdy.View, vr.View, vdx.View, width);
            var (error, floor) = Compare(expected, Narrow(vdx.GetAsArray()), "dx");
            Assert.True(error < 1.5 * floor, $"width {width}: relative error norm {error:E2}, bf16 rounding alone {floor:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void ReluSquaredAndItsGradientMatchFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        BFloat16[] x = Random(rng, 8 * 301, 4), dy = Random(rng, x.Length, 1);
        using var vx = acc.Allocate<BFloat16>(x);
        using var vdy = acc.Allocate<BFloat16>(dy);
        using var vy = acc.Allocate<BFloat16>(Poison(x.Length));
        using var vdx = acc.Allocate<BFloat16>(Poison(x.Length));
        TrainingKernels.ReluSquared(acc, vx.View, vy.View);
        TrainingKernels.ReluSquaredBackward(acc, vx.View, vdy.View, vdx.View);
        double[] wx = Wide(x), wdy = Wide(dy);
        float[] y = Narrow(vy.GetAsArray()), dx = Narrow(vdx.GetAsArray());
        for (int i = 0; i < x.Length; i++)
        {
            // One fp32 product of bf16 values, rounded once: exactly the rounded float64 value.
            double relu = Math.Max(wx[i], 0);
            Assert.Equal((float)(BFloat16)(relu * relu), y[i]);
            Assert.Equal((float)(BFloat16)(2 * relu * wdy[i]), dx[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void RotaryRotatesHalvesAndItsBackwardUndoesIt(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        int batch = 2, t = 5, h = 3, d = 8, half = d / 2;
        BFloat16[] x = Random(rng, batch * t * h * d, 2);
        float[] cos = new float[t * half], sin = new float[t * half];
        for (int p = 0; p < t; p++)
        {
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(10000, -(double)i / half); // nanochat's frequencies, base 10000
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        }
        using var vx = acc.Allocate<BFloat16>(x);
        using var vc = acc.Allocate<float>(cos);
        using var vs = acc.Allocate<float>(sin);
        using var vy = acc.Allocate<BFloat16>(Poison(x.Length));
        using var vback = acc.Allocate<BFloat16>(Poison(x.Length));
        TrainingKernels.Rotary(acc, vx.View, vc.View, vs.View, vy.View, t, h, d);
        TrainingKernels.Rotary(acc, vy.View, vc.View, vs.View, vback.View, t, h, d, backward: true);
        double[] wx = Wide(x);
        var expected = new double[x.Length];
        for (int row = 0; row < batch * t * h; row++)
        {
            int p = row / h % t;
            for (int i = 0; i < half; i++)
            {
                double x1 = wx[row * d + i], x2 = wx[row * d + half + i], c = cos[p * half + i], s = sin[p * half + i];
                expected[row * d + i] = x1 * c + x2 * s;
                expected[row * d + half + i] = -x1 * s + x2 * c;
            }
        }
        var (error, floor) = Compare(expected, Narrow(vy.GetAsArray()), "y");
        Assert.True(error < 1.2 * floor + 1e-7, $"rotary: relative error norm {error:E2}, bf16 rounding alone {floor:E2}");
        // The backward rotation is the transpose (the inverse) of the forward one: back to x within two roundings.
        var (roundTrip, _) = Compare(wx, Narrow(vback.GetAsArray()), "dx");
        Assert.True(roundTrip < 4 * floor, $"rotary round trip: relative error norm {roundTrip:E2}");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void CrossEntropyWithSoftcapMatchesFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        foreach (var (vocab, cap) in new[] { (1000, 15f), (4096, 15f), (300, 0f) })
        {
            int rows = 6;
            BFloat16[] z = Random(rng, rows * vocab, 25); // Past the cap: the softcap's saturation matters.
            int[] targets = [3, -1, vocab - 1, 0, rng.Next(vocab), -1];
            double scale = 1.0 / targets.Count(x => x >= 0);
            double[] losses = CrossEntropyReference(Wide(z), targets, vocab, cap, scale, out double[] dz);
            using var vz = acc.Allocate<BFloat16>(z);
            using var vt = acc.Allocate<int>(targets);
            using var vl = acc.Allocate<float>(Enumerable.Repeat(float.NaN, rows).ToArray());
            using var vdz = acc.Allocate<BFloat16>(Poison(z.Length));
            TrainingKernels.CrossEntropy(acc, vz.View, vt.View, vl.View, vdz.View, vocab, cap, (float)scale);
            float[] l = vl.GetAsArray();
            for (int r = 0; r < rows; r++)
            {
                Assert.True(Math.Abs(l[r] - losses[r]) <= 2e-5 * Math.Max(1, losses[r]), $"vocab {vocab}, row {r}: loss {l[r]}, float64 {losses[r]}");
            }
            var (error, floor) = Compare(dz, Narrow(vdz.GetAsArray()), "dlogits");
            Assert.True(error < 1.5 * floor, $"vocab {vocab}, cap {cap}: dlogits relative error norm {error:E2}, bf16 rounding alone {floor:E2}");
            Assert.All(vdz.GetAsArray()[vocab..(2 * vocab)], g => Assert.Equal(0f, (float)g)); // The ignored row.
        }
    }

    [Fact]
    public void ATargetPastTheVocabularyMakesTheLossNaN()
    {
        using var cpu = new CpuAccelerator(32);
        using var z = cpu.Allocate<BFloat16>(Enumerable.Repeat((BFloat16)0.5f, 2 * 64).ToArray());
        using var t = cpu.Allocate<int>(new[] { 5, 64 });
        using var l = cpu.Allocate<float>(2);
        TrainingKernels.CrossEntropy(cpu, z.View, t.View, l.View, null, 64, 15f, 0.5f);
        float[] losses = l.GetAsArray();
        Assert.Equal(Math.Log(64), losses[0], 5);
        Assert.True(float.IsNaN(losses[1]));
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void EmbeddingGathersRowsAndItsBackwardAddsThemBack(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        int vocab = 50, width = 24, rows = 77;
        BFloat16[] table = Random(rng, vocab * width, 1), dout = Random(rng, rows * width, 1);
        int[] ids = Enumerable.Range(0, rows).Select(_ => rng.Next(vocab)).ToArray();
        ids[3] = ids[4] = ids[5] = 7; // Repeats meet in the gradient.
        using var vids = acc.Allocate<int>(ids);
        using var vt = acc.Allocate<BFloat16>(table);
        using var vo = acc.Allocate<BFloat16>(Poison(rows * width));
        using var vdo = acc.Allocate<BFloat16>(dout);
        double[] start = Enumerable.Range(0, vocab * width).Select(_ => rng.NextDouble()).ToArray();
        using var vdt = acc.Allocate<float>(start.Select(x => (float)x).ToArray());
        TrainingKernels.Embedding(acc, vids.View, vt.View, vo.View, width);
        TrainingKernels.EmbeddingBackward(acc, vids.View, vdo.View, vdt.View, width);
        BFloat16[] o = vo.GetAsArray();
        for (int r = 0; r < rows; r++)
        {
            Assert.Equal(table.AsSpan(ids[r] * width, width).ToArray().Select(v => v.RawValue), o.AsSpan(r * width, width).ToArray().Select(v => v.RawValue));
        }
        double[] expected = (double[])start.Clone();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < width; c++)
            {
                expected[ids[r] * width + c] += (float)dout[r * width + c];
            }
        }
        float[] dt = vdt.GetAsArray();
        for (int i = 0; i < dt.Length; i++)
        {
            Assert.True(Math.Abs(dt[i] - expected[i]) < 1e-5, $"dTable[{i}] = {dt[i]}, float64 {expected[i]}");
        }
    }

    [Fact]
    public void AnIdOutsideTheVocabularyMakesItsRowNaN()
    {
        using var cpu = new CpuAccelerator(32);
        using var ids = cpu.Allocate<int>(new[] { 1, 9, -1 });
        using var table = cpu.Allocate<BFloat16>(Enumerable.Repeat((BFloat16)1f, 4 * 8).ToArray());
        using var output = cpu.Allocate<BFloat16>(3 * 8);
        TrainingKernels.Embedding(cpu, ids.View, table.View, output.View, 8);
        BFloat16[] o = output.GetAsArray();
        Assert.All(o[..8], v => Assert.Equal(1f, (float)v));
        Assert.All(o[8..], v => Assert.True(BFloat16.IsNaN(v)));
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void CastsRoundToNearestEvenAndSumsOfSquaresMatchFloat64(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        float[] x = [.. Enumerable.Range(0, 1998).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-5, 5)))), float.NaN, -0f];
        using var vx = acc.Allocate<float>(x);
        using var vb = acc.Allocate<BFloat16>(Poison(x.Length));
        using var back = acc.Allocate<float>(Enumerable.Repeat(float.NaN, x.Length).ToArray());
        TrainingKernels.ToBf16(acc, vx.View, vb.View);
        TrainingKernels.ToFloat(acc, vb.View, back.View);
        BFloat16[] b = vb.GetAsArray();
        float[] f = back.GetAsArray();
        for (int i = 0; i < x.Length; i++)
        {
            // Engine's BFloat16 conversion is the bit-pattern-tested reference for nearest-even rounding.
            Assert.True(float.IsNaN(x[i]) ? BFloat16.IsNaN(b[i]) : b[i].RawValue == ((BFloat16)x[i]).RawValue, $"x[{i}] = {x[i]:R}: bf16 bits {b[i].RawValue:X4}, expected {((BFloat16)x[i]).RawValue:X4}");
            Assert.Equal(BitConverter.SingleToInt32Bits((float)b[i]), BitConverter.SingleToInt32Bits(f[i]));
        }
        float[] values = Enumerable.Range(0, 100_003).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var vv = acc.Allocate<float>(values);
        using var total = acc.Allocate<float>([1.5f]);
        TrainingKernels.SumOfSquares(acc, vv.View, total.View);
        double expected = 1.5 + values.Sum(v => (double)v * v);
        Assert.True(Math.Abs(total.GetAsArray()[0] - expected) < 1e-5 * expected, $"sum of squares {total.GetAsArray()[0]}, float64 {expected}");
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void AdamWMatchesTheFloat64Update(string kind)
    {
        using Accelerator acc = Make(kind);
        var rng = new Random(Environment.TickCount);
        int n = 1000;
        double[] p = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] m = new double[n], v = new double[n];
        using var vp = acc.Allocate<float>(p.Select(x => (float)x).ToArray());
        using var vm = acc.Allocate<float>(n);
        using var vv = acc.Allocate<float>(n);
        using var vg = acc.Allocate<float>(n);
        vm.CopyFromCPU(new float[n]);
        vv.CopyFromCPU(new float[n]);
        const double beta1 = 0.8, beta2 = 0.95, lr = 0.01, wd = 0.1, eps = 1e-10;
        for (int step = 1; step <= 3; step++)
        {
            float[] g = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            vg.CopyFromCPU(g);
            TrainingKernels.AdamW(acc, vp.View, vg.View, vm.View, vv.View, new AdamWSettings(step, (float)lr, (float)beta1, (float)beta2, (float)eps, (float)wd));
            for (int i = 0; i < n; i++)
            {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i];
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
                double mh = m[i] / (1 - Math.Pow(beta1, step)), vh = v[i] / (1 - Math.Pow(beta2, step));
                p[i] = p[i] * (1 - lr * wd) - lr * mh / (Math.Sqrt(vh) + eps);
            }
        }
        float[] actual = vp.GetAsArray();
        double diff = 0, norm = 0;
        for (int i = 0; i < n; i++)
        {
            diff += (actual[i] - p[i]) * (actual[i] - p[i]);
            norm += p[i] * p[i];
        }
        Assert.True(Math.Sqrt(diff / norm) < 1e-6, $"AdamW after 3 steps: relative error norm {Math.Sqrt(diff / norm):E2}");
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingKernels.AdamW(acc, vp.View, vg.View, vm.View, vv.View, new AdamWSettings(0, 0.01f)));
    }

    [Fact]
    public void EveryKernelHasACostModel()
    {
        // Bytes per element are what each kernel must move at the least: 2 per bf16 value, 4 per float.
        Assert.Equal(3 * 1000 * 2 + 10 * 4, TrainingKernels.BytesMoved("rmsnorm-backward", 1000, 10));
        Assert.Equal(7 * 1000 * 4, TrainingKernels.BytesMoved("adamw", 1000));
        foreach (string name in new[] { "relu2", "relu2-backward", "rotary", "cross-entropy", "embedding", "embedding-backward", "to-bf16", "to-float", "sum-of-squares" })
        {
            Assert.True(TrainingKernels.BytesMoved(name, 1000, 10) >= 1000 * 2, name);
        }
        Assert.Contains("Unknown kernel 'gelu'", Assert.Throws<ArgumentException>(() => TrainingKernels.BytesMoved("gelu", 1)).Message);
        Assert.Equal(5 * (4.0 * 128 * 128 * 256 + 2.0 * 128 * 128 * 128), MuonKernels.Flops(256, 128));
    }

    [Fact]
    public void MismatchedShapesAreRefusedWithBothSizes()
    {
        using var cpu = new CpuAccelerator(32);
        using var a = cpu.Allocate<BFloat16>(64);
        using var b = cpu.Allocate<BFloat16>(72);
        var e = Assert.Throws<ArgumentException>(() => TrainingKernels.ReluSquared(cpu, a.View, b.View));
        Assert.Contains("72", e.Message);
        Assert.Contains("64", e.Message);
        using var t = cpu.Allocate<int>(3);
        using var l = cpu.Allocate<float>(2);
        e = Assert.Throws<ArgumentException>(() => TrainingKernels.CrossEntropy(cpu, a.View, t.View, l.View, null, 32, 15f, 1f));
        Assert.Contains("2 rows of 32", e.Message);
    }
}
