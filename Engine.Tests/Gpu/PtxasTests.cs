using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Engine.Gpu;
using Engine.Gpu.Ptx;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>
/// NVIDIA's own assembler is the judge of our PTX: every kernel of the catalogue goes through
/// <c>ptxas -v</c> (skipped visibly where the CUDA toolkit is absent, as in CI), and the tensor-core and
/// async-copy kernels must become the SASS instructions they were meant to (HMMA, LDSM, LDGSTS).
/// Set ENGINE_GPU_REPORT to a folder to get the registers, stack and spills of every kernel as a table.
/// </summary>
public class PtxasTests
{
    private static string? FindTool(string name)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).ToList();
        foreach (string v in new[] { "CUDA_HOME", "CUDA_PATH" })
        {
            if (Environment.GetEnvironmentVariable(v) is { Length: > 0 } home)
            {
                dirs.Add(Path.Combine(home, "bin"));
            }
        }
        dirs.Add("/usr/local/cuda/bin");
        return dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    private static int TargetCapability() =>
        CudaAccelerator.Unavailable is null ? CudaAccelerator.Devices[0].ComputeCapability : 90;

    private static (int Code, string Output) Execute(string tool, string arguments)
    {
        var start = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(start)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }

    /// <summary>Every distinct kernel method the tests know, with a readable name.</summary>
    private static IEnumerable<(string Name, MethodInfo Method)> Kernels()
    {
        var seen = new HashSet<MethodInfo>();
        foreach (var (name, c) in KernelCatalogueTests.Cases)
        {
            if (seen.Add(c.Kernel.Method))
            {
                yield return (name, c.Kernel.Method);
            }
        }
        // The test kernels ...
        foreach (Type t in new[] { typeof(TensorCoreKernels), typeof(QualityKernels) })
        {
            foreach (MethodInfo m in t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            {
                if (m.GetCustomAttribute<KernelAttribute>() is not null && !m.IsGenericMethodDefinition && seen.Add(m))
                {
                    yield return ($"{t.Name}.{m.Name}", m);
                }
            }
        }
        // ... then every kernel Engine.Kernels can launch, at every specialisation.
        foreach (MethodInfo m in Engine.Kernels.KernelInventory.All())
        {
            if (seen.Add(m))
            {
                yield return (Engine.Kernels.KernelInventory.Name(m), m);
            }
        }
    }

    [Fact]
    public void EveryKernelAssemblesWithPtxas()
    {
        string? ptxas = FindTool("ptxas");
        if (ptxas is null)
        {
            Assert.Skip("ptxas not found (no CUDA toolkit on PATH, CUDA_HOME or /usr/local/cuda/bin).");
        }
        int sm = TargetCapability();
        string dir = Directory.CreateTempSubdirectory("engine-ptxas-").FullName;
        var failures = new List<string>();
        var table = new StringBuilder("kernel\tregisters\tstack bytes\tspill stores\tspill loads\tshared bytes\n");
        int count = 0;
        try
        {
            foreach (var (name, method) in Kernels())
            {
                count++;
                string file = Path.Combine(dir, $"k{count}.ptx");
                File.WriteAllText(file, PtxEmitter.Emit(KernelCompiler.Compile(method).Function, new PtxTarget(sm), "kernel"));
                var (code, output) = Execute(ptxas, $"-arch=sm_{sm} -v -o \"{Path.ChangeExtension(file, ".cubin")}\" \"{file}\"");
                if (code != 0)
                {
                    failures.Add($"{name} ({method.DeclaringType?.Name}.{method.Name}, {file}):\n{output}");
                    continue;
                }
                string Grab(string pattern) => Regex.Match(output, pattern) is { Success: true } m ? m.Groups[1].Value : "0";
                table.Append($"{name}\t{Grab(@"Used (\d+) registers")}\t{Grab(@"(\d+) bytes stack frame")}\t{Grab(@"(\d+) bytes spill stores")}\t{Grab(@"(\d+) bytes spill loads")}\t{Grab(@"(\d+) bytes smem")}\n");
            }
            TestContext.Current.TestOutputHelper?.WriteLine(table.ToString());
            if (Environment.GetEnvironmentVariable("ENGINE_GPU_REPORT") is { Length: > 0 } report)
            {
                Directory.CreateDirectory(report);
                File.WriteAllText(Path.Combine(report, $"ptxas-sm_{sm}.tsv"), table.ToString());
            }
            Assert.True(failures.Count == 0, $"ptxas (sm_{sm}) rejected {failures.Count} of {count} kernels:\n{string.Join("\n", failures)}");
        }
        finally
        {
            if (failures.Count == 0)
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void TensorCoreKernelsBecomeTheMeantSass()
    {
        string? ptxas = FindTool("ptxas"), cuobjdump = FindTool("cuobjdump");
        if (ptxas is null || cuobjdump is null)
        {
            Assert.Skip("ptxas or cuobjdump not found (no CUDA toolkit on PATH, CUDA_HOME or /usr/local/cuda/bin).");
        }
        int sm = TargetCapability();
        string dir = Directory.CreateTempSubdirectory("engine-sass-").FullName;
        try
        {
            string Sass(Delegate kernel)
            {
                string ptx = Path.Combine(dir, kernel.Method.Name + ".ptx"), cubin = Path.ChangeExtension(ptx, ".cubin");
                File.WriteAllText(ptx, PtxEmitter.Emit(KernelCompiler.Compile(kernel.Method).Function, new PtxTarget(sm), "kernel"));
                var (code, output) = Execute(ptxas, $"-arch=sm_{sm} -o \"{cubin}\" \"{ptx}\"");
                Assert.True(code == 0, output);
                var (dumpCode, sass) = Execute(cuobjdump, $"-sass \"{cubin}\"");
                Assert.True(dumpCode == 0, sass);
                return sass;
            }
            string mma = Sass((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>)TensorCoreKernels.MmaTile);
            Assert.Contains("HMMA.16816.F32", mma);
            Assert.DoesNotContain("STL", mma); // No local memory where registers were meant.
            string shared = Sass((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>)TensorCoreKernels.MmaFromShared);
            Assert.Contains("LDSM.16.M88.4", shared);
            Assert.Contains("LDSM.16.MT88.2", shared);
            Assert.Contains("HMMA.16816.F32", shared);
            string copy = Sass((Action<ArrayView<float>, ArrayView<TensorCoreKernels.Quad>, ArrayView<float>>)TensorCoreKernels.AsyncCopyReverse);
            Assert.Contains("LDGSTS", copy);
            Assert.Contains("LDGDEPBAR", copy);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
