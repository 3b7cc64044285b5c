using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;
using Engine.Optim;

namespace Engine.Tests.Kernels;

/// <summary>
/// Muon on the device (momentum, bf16 Newton–Schulz on the tensor-core GEMM with its fused epilogue,
/// the scaled update) against Engine's CPU Muon arithmetic (fp32 Newton–Schulz, itself checked against
/// PyTorch), wide, tall and square; and the GEMM's blend epilogue against float64.
/// </summary>
public class MuonKernelsTests
{
    private static float[] Random(Random rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    [Fact]
    public void TheBlendEpilogueMatchesFloat64()
    {
        using var cpu = new CpuAccelerator(32);
        var rng = new Random(Environment.TickCount);
        int m = 128, n = 256, k = 96;
        BFloat16[] a = Random(rng, m * k, 1).Select(v => (BFloat16)v).ToArray(), b = Random(rng, k * n, 1).Select(v => (BFloat16)v).ToArray();
        BFloat16[] d = Random(rng, m * n, 4).Select(v => (BFloat16)v).ToArray();
        using var va = cpu.Allocate<BFloat16>(a);
        using var vb = cpu.Allocate<BFloat16>(b);
        using var vd = cpu.Allocate<BFloat16>(d);
        TensorCoreGemm.Bf16(cpu, va.View, false, vb.View, false, vd.View, m, n, k, 0.75f, vd.View, -2.5f); // In place: D is C.
        BFloat16[] c = vd.GetAsArray();
        double diff = 0, norm = 0, floor = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                for (int p = 0; p < k; p++)
                {
                    dot += (double)(float)a[i * k + p] * (float)b[p * n + j];
                }
                double expected = 0.75 * dot - 2.5 * (float)d[i * n + j];
                diff += Math.Pow(expected - (float)c[i * n + j], 2);
                norm += expected * expected;
                floor += Math.Pow(expected - (float)(BFloat16)expected, 2);
            }
        }
        Assert.True(Math.Sqrt(diff / norm) < 1.05 * Math.Sqrt(floor / norm) + 1e-6, $"blend: relative error norm {Math.Sqrt(diff / norm):E2}, rounding alone {Math.Sqrt(floor / norm):E2}");
    }

    [Theory]
    [InlineData(128, 256)]
    [InlineData(256, 128)]
    [InlineData(128, 128)]
    public void TwoStepsMatchTheCpuMuon(int rows, int cols)
    {
        using var cpu = new CpuAccelerator(32);
        var rng = new Random(Environment.TickCount);
        const float lr = 0.02f, momentum = 0.95f;
        float[] p = Random(rng, rows * cols, 0.1);
        double[] expected = p.Select(v => (double)v).ToArray(), buffer = new double[p.Length];
        using var vp = cpu.Allocate<float>(p);
        using var vg = cpu.Allocate<float>(p.Length);
        using var vm = cpu.Allocate<float>(new float[p.Length]);
        using var fw = cpu.Allocate<float>(MuonKernels.FloatWorkspace(rows, cols));
        using var bw = cpu.Allocate<BFloat16>(MuonKernels.Bf16Workspace(rows, cols));
        double worst = 0;
        for (int step = 0; step < 2; step++)
        {
            float[] g = Random(rng, p.Length, 1e-2);
            vg.CopyFromCPU(g);
            MuonKernels.Step(cpu, vp.View, vg.View, vm.View, rows, cols, lr, momentum, nesterov: true, fw.View, bw.View);
            // The CPU Muon's arithmetic: Nesterov momentum, fp32 Newton–Schulz (Muon.NewtonSchulz), the shape scale.
            float[] direction = new float[p.Length];
            for (int i = 0; i < p.Length; i++)
            {
                buffer[i] = momentum * buffer[i] + (1 - momentum) * g[i];
                direction[i] = (float)((1 - momentum) * g[i] + momentum * buffer[i]);
            }
            using var update = Muon.NewtonSchulz(Tensor.FromArray(direction, rows, cols), 5);
            float[] u = update.ToArray<float>();
            double scale = Math.Sqrt(Math.Max(1.0, (double)rows / cols));
            double diff = 0, norm = 0;
            for (int i = 0; i < p.Length; i++)
            {
                expected[i] -= lr * scale * u[i];
            }
            float[] actual = vp.GetAsArray();
            for (int i = 0; i < p.Length; i++)
            {
                double moved = expected[i] - p[i], got = actual[i] - p[i];
                diff += (moved - got) * (moved - got);
                norm += moved * moved;
            }
            worst = Math.Max(worst, Math.Sqrt(diff / norm));
            TestContext.Current.TestOutputHelper?.WriteLine($"{rows} x {cols}, step {step + 1}: the update differs from the fp32 CPU Muon's by {Math.Sqrt(diff / norm):E2} (relative norm)");
        }
        // Five Newton–Schulz iterations with bf16 operands and outputs against fp32 ones: a few percent.
        Assert.True(worst < 0.05, $"{rows} x {cols}: the device Muon's update differs from the CPU's by {worst:E2}");
        float[] m = vm.GetAsArray();
        for (int i = 0; i < m.Length; i++)
        {
            Assert.True(Math.Abs(m[i] - buffer[i]) <= 1e-6 * Math.Max(1, Math.Abs(buffer[i])), $"momentum[{i}] = {m[i]}, float64 {buffer[i]}");
        }
    }

    [Fact]
    public void ShapesOffTheTileAreRefused()
    {
        using var cpu = new CpuAccelerator(32);
        using var x = cpu.Allocate<float>(100 * 128);
        using var w = cpu.Allocate<BFloat16>(1);
        var e = Assert.Throws<ArgumentException>(() => MuonKernels.Step(cpu, x.View, x.View, x.View, 100, 128, 0.02f, 0.95f, true, x.View, w.View));
        Assert.Contains("100 x 128", e.Message);
    }
}
