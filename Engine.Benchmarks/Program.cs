using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

/// <summary>
/// BenchmarkDotNet's command line for the CPU benchmarks (for example <c>--filter '*Sgemm*'</c>); the GPU
/// benchmarks are their own commands, timed with CUDA events: <c>gpu-memory</c> and <c>gpu-gemm</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "gpu-memory")
        {
            return GpuMemoryBenchmark.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "gpu-gemm")
        {
            return GpuGemmBenchmark.Run(args[1..]);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
