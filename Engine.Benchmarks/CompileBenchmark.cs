using System.Diagnostics;
using System.Reflection;
using Engine.Gpu;
using Engine.Gpu.Ptx;
using Engine.Kernels;

namespace Engine.Benchmarks;

/// <summary>
/// <c>Engine.Benchmarks compile</c>: for every kernel Engine.Kernels ships (each generic kernel at every
/// specialisation the library launches), the time from IL to PTX text with nothing cached, and the time
/// of a PTX disk-cache hit as the CUDA backend takes it (fingerprint of the kernel and its callees, the
/// file read, the parameter layout; no IL translated). Needs no GPU: the compiler runs on the CPU.
/// </summary>
internal static class CompileBenchmark
{
    public static int Run(string[] args)
    {
        var target = new PtxTarget(90);
        List<MethodInfo> kernels = KernelInventory.All().ToList();
        string folder = Path.Combine(Path.GetTempPath(), "engine-compile-bench-" + Environment.ProcessId);
        var cache = new PtxDiskCache(folder);
        Console.WriteLine($"{kernels.Count} kernels, sm_90, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        Console.WriteLine($"{"kernel",-70} {"first",9} {"best of 3",10} {"hit (median of 7)",18}");
        var rows = new List<(string Name, double First, double Best, double Hit)>();
        try
        {
            foreach (MethodInfo kernel in kernels)
            {
                var times = new List<double>();
                string ptx = "";
                for (int r = 0; r < 3; r++)
                {
                    var watch = Stopwatch.StartNew();
                    ptx = PtxEmitter.Emit(KernelCompiler.CompileUncached(kernel).Function, target, "kernel");
                    times.Add(watch.Elapsed.TotalMilliseconds);
                }
                cache.GetOrAdd(kernel, target.CacheKey, () => ptx, out _);
                var hits = new List<double>();
                for (int r = 0; r < 7; r++)
                {
                    var watch = Stopwatch.StartNew();
                    string? cached = new PtxDiskCache(folder).TryGet(kernel, target);
                    var deferred = new CompiledKernel(kernel, () => throw new InvalidOperationException("a cache hit must not translate IL"));
                    int slots = deferred.ParameterSlots;
                    hits.Add(watch.Elapsed.TotalMilliseconds);
                    if (cached != ptx || slots <= 0 || deferred.HasIr)
                    {
                        throw new InvalidOperationException($"{kernel.Name}: the cache did not return the stored PTX");
                    }
                }
                hits.Sort();
                string name = KernelInventory.Name(kernel);
                rows.Add((name, times[0], times.Min(), hits[3]));
                Console.WriteLine(FormattableString.Invariant($"{name,-70} {times[0],7:F0} ms {times.Min(),7:F0} ms {hits[3],14:F2} ms"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        var slowest = rows.MaxBy(r => r.Best);
        Console.WriteLine(FormattableString.Invariant(
            $"slowest to compile: {slowest.Name}, {slowest.Best:F0} ms (best of 3), {slowest.First:F0} ms the first time in this process; slowest hit {rows.Max(r => r.Hit):F2} ms"));
        return 0;
    }
}
