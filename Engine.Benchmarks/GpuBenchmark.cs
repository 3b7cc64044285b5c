using System.Globalization;
using Engine.Gpu;

namespace Engine.Benchmarks;

/// <summary>What every GPU benchmark command starts with: the device (or why there is none) and its iteration count.</summary>
internal static class GpuBenchmark
{
    /// <summary>
    /// Opens the first CUDA GPU and prints it, or prints why <paramref name="command"/> cannot run and
    /// returns null; <paramref name="iterations"/> is <c>--iterations N</c> from <paramref name="args"/>, else the default.
    /// </summary>
    public static CudaAccelerator? Open(string command, string[] args, int defaultIterations, out int iterations)
    {
        iterations = defaultIterations;
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--iterations")
            {
                iterations = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Console.Error.WriteLine($"{command} needs a CUDA GPU: {reason}");
            return null;
        }
        var gpu = new CudaAccelerator();
        Console.WriteLine($"device: {gpu.Name}, {gpu.Info.Multiprocessors} SMs");
        return gpu;
    }

    /// <summary>
    /// Milliseconds per call of <paramref name="run"/>: a few warm-up calls (compile, load, clocks), then
    /// <paramref name="iterations"/> calls between two CUDA events.
    /// </summary>
    public static double Time(CudaAccelerator gpu, Action run, int iterations, int warmup = 5)
    {
        for (int w = 0; w < warmup; w++)
        {
            run();
        }
        using CudaEvent start = gpu.CreateEvent(), end = gpu.CreateEvent();
        start.Record();
        for (int i = 0; i < iterations; i++)
        {
            run();
        }
        end.Record();
        end.Synchronize();
        return CudaEvent.ElapsedMilliseconds(start, end) / iterations;
    }
}
