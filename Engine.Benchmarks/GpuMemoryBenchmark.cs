using Engine.Gpu;
using Engine.Kernels;
using Engine.Numerics;

namespace Engine.Benchmarks;

/// <summary>
/// <c>Engine.Benchmarks gpu-memory</c>: the bf16 memory kernels on a CUDA GPU, timed with CUDA events,
/// reported as GB/s of the bytes each must move (MemoryKernels.BytesMoved) and as a fraction of the
/// copy kernel's bandwidth. tools/bench/memory_torch.py prints the same lines for PyTorch; run both in
/// one session on the same GPU and compare.
/// </summary>
internal static class GpuMemoryBenchmark
{
    public static int Run(string[] args)
    {
        using CudaAccelerator? gpu = GpuBenchmark.Open("gpu-memory", args, 50, out int iterations);
        if (gpu is null)
        {
            return 2;
        }
        var rng = new Random(1);
        const int n = 1 << 26;
        BFloat16[] host = Enumerable.Range(0, n).Select(_ => (BFloat16)(rng.NextDouble() * 2 - 1)).ToArray();
        using var a = gpu.Allocate<BFloat16>(host);
        using var b = gpu.Allocate<BFloat16>(host);
        using var c = gpu.Allocate<BFloat16>(n);
        Report(gpu, "copy", $"n={n}", MemoryKernels.BytesMoved("copy", n), iterations, () => MemoryKernels.Copy(gpu, a.View, c.View));
        Report(gpu, "add", $"n={n}", MemoryKernels.BytesMoved("add", n), iterations, () => MemoryKernels.Add(gpu, a.View, b.View, c.View));
        foreach (var (rows, width) in new[] { (65536, 768), (49152, 1280), (32768, 2048) })
        {
            int elements = rows * width;
            using var rstd = gpu.Allocate<float>(rows);
            ArrayView<BFloat16> x = a.View.SubView(0, elements), y = c.View.SubView(0, elements);
            Report(gpu, "rmsnorm", $"rows={rows} width={width}", MemoryKernels.BytesMoved("rmsnorm", elements, rows), iterations,
                () => MemoryKernels.RmsNorm(gpu, x, y, rstd.View, width));
            CheckRmsNorm(host, c, rstd, width);
        }
        Float32Kernels(gpu, iterations);
        return 0;
    }

    /// <summary>
    /// The fp32 kernels of Engine's GPU backend (TensorKernels) that a training step spends its memory
    /// traffic on: the residual add, RMSNorm, the row softmax and the head's cross-entropy forward and
    /// backward. Their bytes are the fewest each must move (fp32 in and out); memory_torch.py prints
    /// PyTorch's fp32 eager numbers for the same shapes.
    /// </summary>
    private static void Float32Kernels(CudaAccelerator gpu, int iterations)
    {
        const int n = 1 << 26;
        var rng = new Random(2);
        float[] host = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var a = gpu.Allocate<float>(host);
        using var b = gpu.Allocate<float>(host);
        using var c = gpu.Allocate<float>(n);
        var dense = StridedLayout.Of([n], [1], 0, [1], 0);
        Report(gpu, "f32-add", $"n={n}", 3L * n * 4, iterations, () => TensorKernels.Binary(gpu, BinaryFunction.Add, a.View, b.View, c.View, dense));
        foreach (var (rows, width) in new[] { (16384, 768), (16384, 1280) })
        {
            int elements = rows * width;
            using var rstd = gpu.Allocate<float>(rows);
            Report(gpu, "f32-rmsnorm", $"rows={rows} width={width}", 2L * elements * 4 + rows * 4, iterations,
                () => TensorKernels.RmsNorm(gpu, a.View.SubView(0, elements), c.View.SubView(0, elements), rstd.View, width, 1.1920929e-07f));
        }
        foreach (var (rows, vocab) in new[] { (2048, 32768) })
        {
            int elements = rows * vocab;
            using var targets = gpu.Allocate<int>(Enumerable.Range(0, rows).Select(i => i * 7 % vocab).ToArray());
            using var losses = gpu.Allocate<float>(rows);
            using var lse = gpu.Allocate<float>(rows);
            ArrayView<float> logits = a.View.SubView(0, elements), grad = c.View.SubView(0, elements);
            Report(gpu, "f32-softmax", $"rows={rows} width={vocab}", 2L * elements * 4, iterations, () => TensorKernels.Softmax(gpu, logits, grad, vocab));
            Report(gpu, "f32-cross-entropy", $"rows={rows} vocab={vocab}", (long)elements * 4 + rows * 12L, iterations,
                () => TensorKernels.CrossEntropy(gpu, logits, targets.View, losses.View, lse.View, vocab, -1));
            Report(gpu, "f32-cross-entropy-backward", $"rows={rows} vocab={vocab}", 2L * elements * 4 + rows * 8L, iterations,
                () => TensorKernels.CrossEntropyBackward(gpu, logits, targets.View, lse.View, grad, vocab, -1, 1f / rows));
        }
    }

    private static void Report(CudaAccelerator gpu, string kernel, string shape, long bytes, int iterations, Action launch)
    {
        double ms = GpuBenchmark.Time(gpu, launch, iterations); // the first calls compile, load and warm the clocks
        Console.WriteLine(FormattableString.Invariant($"engine {kernel} {shape}: {ms * 1000:F1} us, {bytes / (ms * 1e-3) / 1e9:F0} GB/s"));
    }

    /// <summary>A fast wrong kernel is never reported: a few rows are checked against float64 each run.</summary>
    private static void CheckRmsNorm(BFloat16[] x, MemoryBuffer<BFloat16> y, MemoryBuffer<float> rstd, int width)
    {
        BFloat16[] result = y.GetAsArray();
        foreach (int row in new[] { 0, 17, rstd.Length - 1 })
        {
            double meanSquare = 0;
            for (int k = 0; k < width; k++)
            {
                meanSquare += Math.Pow((float)x[row * width + k], 2) / width;
            }
            double scale = 1 / Math.Sqrt(meanSquare + MemoryKernels.RmsNormEpsilon);
            for (int k = 0; k < width; k++)
            {
                double expected = (float)x[row * width + k] * scale, actual = (float)result[row * width + k];
                if (Math.Abs(expected - actual) > 8e-3 * Math.Abs(expected) + 1e-6)
                {
                    throw new InvalidOperationException($"rmsnorm row {row} column {k}: {actual} vs float64 {expected}");
                }
            }
        }
    }
}
