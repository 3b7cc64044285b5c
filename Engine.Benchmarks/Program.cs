using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

/// <summary>
/// BenchmarkDotNet's command line for the CPU benchmarks (for example <c>--filter '*Sgemm*'</c>); the GPU
/// benchmarks are their own commands, timed with CUDA events: <c>gpu-memory</c>, <c>gpu-gemm</c> and
/// <c>gpu-attention</c>; <c>gpu-train-step</c> times whole training steps of Engine's GPU backend; <c>compile</c> times the kernel compiler and its disk cache (no GPU needed);
/// <c>step-memory</c> measures what a training forward and backward holds, on the CPU.
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
        if (args.Length > 0 && args[0] == "gpu-attention")
        {
            return GpuAttentionBenchmark.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "gpu-train-step")
        {
            return GpuTrainStepBenchmark.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "step-memory")
        {
            return StepMemoryBenchmark.Run(args[1..]);
        }
        if (args.Length > 0 && args[0] == "compile")
        {
            return CompileBenchmark.Run(args[1..]);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
