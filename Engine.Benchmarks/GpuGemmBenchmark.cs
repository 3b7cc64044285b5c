using System.Diagnostics;
using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;

namespace Engine.Benchmarks;

/// <summary>
/// <c>Engine.Benchmarks gpu-gemm [--iterations 50]</c>: the C# tensor-core GEMM (C = A·Bᵀ, bf16 in and
/// out, fp32 accumulation) on a CUDA GPU, timed with CUDA events, in TFLOP/s; every size is checked
/// against float64 on sampled rows first, so a fast wrong kernel is never reported.
/// tools/bench/gemm_torch.py prints the same lines for torch.matmul (cuBLAS); run both in one session.
/// </summary>
internal static class GpuGemmBenchmark
{
    public static int Run(string[] args)
    {
        using CudaAccelerator? gpu = GpuBenchmark.Open("gpu-gemm", args, 50, out int iterations);
        if (gpu is null)
        {
            return 2;
        }
        var compile = Stopwatch.StartNew();
        KernelCompiler.CompileUncached(typeof(TensorCoreGemm).GetMethod("Bf16Kernel", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(typeof(Tile128x256x64), typeof(KInner), typeof(KInner), typeof(PlainEpilogue)));
        Console.WriteLine(FormattableString.Invariant($"engine gemm kernel: IL to verified IR in {compile.Elapsed.TotalMilliseconds:F0} ms (uncached)"));
        foreach (int tile in new[] { 256, 64, 32 })
        {
            TensorCoreGemm.Force = tile;
            Console.WriteLine(tile switch { 256 => "tile 128x256x64:", 64 => "tile 128x128x64:", _ => "tile 128x128x32:" });
            foreach (int size in new[] { 2048, 4096, 8192 })
            {
                Measure(gpu, size, size, size, iterations);
            }
        }
        TensorCoreGemm.Force = null;
        // The backward pass's products at the default tile: dX = dY·W (NN) and dW = dYᵀ·X (TN).
        Console.WriteLine("transpose cases, default tile:");
        foreach (var (aT, bT) in new[] { (false, false), (true, false) })
        {
            Measure(gpu, 4096, 4096, 4096, iterations, aT, bT);
        }
        return 0;
    }

    private static void Measure(CudaAccelerator gpu, int m, int n, int k, int iterations, bool aTransposed = false, bool bTransposed = true)
    {
        string op = (aTransposed, bTransposed) switch { (false, true) => "", (false, false) => " nn", (true, false) => " tn", _ => " tt" };
        var rng = new Random(m);
        BFloat16[] a = Enumerable.Range(0, m * k).Select(_ => (BFloat16)(rng.NextDouble() * 2 - 1)).ToArray();
        BFloat16[] b = Enumerable.Range(0, n * k).Select(_ => (BFloat16)(rng.NextDouble() * 2 - 1)).ToArray();
        using var va = gpu.Allocate<BFloat16>(a);
        using var vb = gpu.Allocate<BFloat16>(b);
        using var vc = gpu.Allocate<BFloat16>(Enumerable.Repeat(BFloat16.NaN, m * n).ToArray());
        void Run() => TensorCoreGemm.Bf16(gpu, va.View, aTransposed, vb.View, bTransposed, vc.View, m, n, k);
        Run();
        gpu.Synchronize();
        Check(a, b, vc.GetAsArray(), m, n, k, aTransposed, bTransposed);
        for (int w = 0; w < 5; w++)
        {
            Run();
        }
        using CudaEvent start = gpu.CreateEvent(), end = gpu.CreateEvent();
        start.Record();
        for (int i = 0; i < iterations; i++)
        {
            Run();
        }
        end.Record();
        end.Synchronize();
        double ms = CudaEvent.ElapsedMilliseconds(start, end) / iterations;
        Console.WriteLine(FormattableString.Invariant($"engine gemm{op} {m}x{n}x{k} bf16: {ms:F3} ms, {TensorCoreGemm.Flops(m, n, k) / (ms * 1e-3) / 1e12:F1} TFLOP/s"));
    }

    private static void Check(BFloat16[] a, BFloat16[] b, BFloat16[] c, int m, int n, int k, bool aTransposed, bool bTransposed)
    {
        double diff = 0, norm = 0;
        foreach (int row in new[] { 0, 1, m / 2 + 3, m - 1 })
        {
            for (int col = 0; col < n; col++)
            {
                double expected = 0;
                for (int p = 0; p < k; p++)
                {
                    expected += (double)(float)a[aTransposed ? p * m + row : row * k + p] * (float)b[bTransposed ? col * k + p : p * n + col];
                }
                double actual = (float)c[row * n + col];
                diff += (expected - actual) * (expected - actual);
                norm += expected * expected;
            }
        }
        double error = Math.Sqrt(diff / norm);
        if (!(error < 4e-3))
        {
            throw new InvalidOperationException($"gemm {m}x{n}x{k}: relative error {error:E2} on sampled rows; not timing a wrong kernel.");
        }
        Console.WriteLine(FormattableString.Invariant($"engine gemm {m}x{n}x{k}: sampled rows match float64 (relative error {error:E2})"));
    }
}
