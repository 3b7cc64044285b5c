using BenchmarkDotNet.Running;

namespace Engine.Benchmarks;

/// <summary>Runs the benchmarks picked by BenchmarkDotNet's command line (for example <c>--filter '*Sgemm*'</c>).</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
