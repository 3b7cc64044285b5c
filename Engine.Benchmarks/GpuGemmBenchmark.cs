using System.Diagnostics;
using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;

namespace Engine.Benchmarks;

/// <summary>
/// <c>Engine.Benchmarks gpu-gemm [--iterations 50]</c>: the C# tensor-core GEMM (C = A·Bᵀ, bf16 in and
/// out, fp32 accumulation) on a CUDA GPU, timed with CUDA events, in TFLOP/s; every size is checked
/// against float64 on sampled rows first, so a fast wrong kernel is never reported.
/// Then the fp32 SIMT GEMM (<see cref="FloatGemm"/>) at 2048 and 4096 and on attention's batched Q·Kᵀ.
/// tools/bench/gemm_torch.py prints the same lines for torch.matmul (cuBLAS; fp32 with TF32 off); run both in one session.
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
        // The fp32 SIMT GEMM (no tensor cores): square A·Bᵀ, and attention's batched Q·Kᵀ on (B, T, H, D)
        // tensors with grouped key heads (B 4, T 1024, H 16, Hkv 4, D 128; z = b·H + h).
        Console.WriteLine("fp32 (FloatGemm, CUDA cores):");
        foreach (int size in new[] { 2048, 4096 })
        {
            MeasureFloat(gpu, $"{size}x{size}x{size}", 1, size, size, size, new GemmOperand(0, size), false, new GemmOperand(0, size), true,
                new GemmOperand(0, size), size * size, size * size, size * size, iterations);
        }
        {
            const int B = 4, T = 1024, H = 16, Hkv = 4, D = 128;
            MeasureFloat(gpu, $"batched q·kᵀ B{B} T{T} H{H} Hkv{Hkv} D{D}", B * H, T, T, D,
                new GemmOperand(0, H * D, T * H * D, H, D), false, new GemmOperand(0, Hkv * D, T * Hkv * D, H, D, H / Hkv), true,
                new GemmOperand(0, T, T * T), B * T * H * D, B * T * Hkv * D, B * H * T * T, iterations);
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
        double ms = GpuBenchmark.Time(gpu, Run, iterations);
        Console.WriteLine(FormattableString.Invariant($"engine gemm{op} {m}x{n}x{k} bf16: {ms:F3} ms, {TensorCoreGemm.Flops(m, n, k) / (ms * 1e-3) / 1e12:F1} TFLOP/s"));
    }

    private static long Base(GemmOperand p, int z) =>
        p.Offset + (long)(z / p.InnerCount) * p.OuterStride + (long)(z % p.InnerCount / p.InnerDivisor) * p.InnerStride;

    private static void MeasureFloat(CudaAccelerator gpu, string name, int batch, int m, int n, int k, GemmOperand aLayout, bool aT, GemmOperand bLayout, bool bT,
        GemmOperand cLayout, int aLength, int bLength, int cLength, int iterations)
    {
        var rng = new Random(m + batch);
        float[] a = Enumerable.Range(0, aLength).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, bLength).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var va = gpu.Allocate<float>(a);
        using var vb = gpu.Allocate<float>(b);
        using var vc = gpu.Allocate<float>(Enumerable.Repeat(float.NaN, cLength).ToArray());
        void Run() => FloatGemm.Multiply(gpu, batch, m, n, k, 1f, va.View, aLayout, aT, vb.View, bLayout, bT, 0f, vc.View, cLayout);
        Run();
        gpu.Synchronize();
        // Sampled rows of the first and last batch entries against float64; a wrong kernel is not timed.
        float[] c = vc.GetAsArray();
        double diff = 0, norm = 0;
        foreach (int z in new[] { 0, batch - 1 })
        {
            foreach (int row in new[] { 0, m / 2 + 3, m - 1 })
            {
                for (int col = 0; col < n; col++)
                {
                    double expected = 0;
                    for (int p = 0; p < k; p++)
                    {
                        expected += (double)a[Base(aLayout, z) + (aT ? (long)p * aLayout.Ld + row : (long)row * aLayout.Ld + p)]
                            * b[Base(bLayout, z) + (bT ? (long)col * bLayout.Ld + p : (long)p * bLayout.Ld + col)];
                    }
                    double actual = c[Base(cLayout, z) + (long)row * cLayout.Ld + col];
                    diff += (expected - actual) * (expected - actual);
                    norm += expected * expected;
                }
            }
        }
        double error = Math.Sqrt(diff / norm);
        if (!(error < 2e-5))
        {
            throw new InvalidOperationException($"fp32 gemm {name}: relative error {error:E2} on sampled rows; not timing a wrong kernel.");
        }
        double ms = GpuBenchmark.Time(gpu, Run, iterations);
        Console.WriteLine(FormattableString.Invariant(
            $"engine gemm fp32 {name}: {ms:F3} ms, {FloatGemm.Flops(batch, m, n, k) / (ms * 1e-3) / 1e12:F1} TFLOP/s (sampled rows: relative error {error:E2})"));
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
