using System.Reflection;
using Engine.Gpu;
using Engine.Gpu.Ptx;
using Engine.Kernels;

namespace Engine.Tests.Gpu;

/// <summary>
/// What a PTX disk-cache hit needs without the IR: the launch's argument slots come from the C#
/// parameter types, and must agree with the IR's parameters for every kernel, or a cached launch would
/// pass its arguments in the wrong places.
/// </summary>
public class KernelLoadingTests
{
    private static IEnumerable<MethodInfo> EveryKernel() =>
        KernelCatalogueTests.Cases.Values.Select(c => c.Kernel.Method)
            .Concat(new[]
            {
                typeof(FlashAttention).GetMethod("ForwardKernel", BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(typeof(HeadDim64), typeof(DenseSchedule)),
                typeof(FlashAttention).GetMethod("BackwardKernel", BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(typeof(HeadDim128), typeof(DenseSchedule)),
                typeof(FlashAttention).GetMethod("PrepareKernel", BindingFlags.NonPublic | BindingFlags.Static)!,
                typeof(TensorCoreGemm).GetMethod("Bf16Kernel", BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(typeof(Tile128x128x64), typeof(KInner), typeof(KInner), typeof(PlainEpilogue)),
            })
            .Where(m => !m.ContainsGenericParameters).Distinct();

    [Fact]
    public void ArgumentSlotsFromTheParameterTypesMatchTheIr()
    {
        int checkedKernels = 0;
        foreach (MethodInfo kernel in EveryKernel())
        {
            CompiledKernel compiled = KernelCompiler.Compile(kernel);
            Assert.True(compiled.ParameterSlots == compiled.Function.Params.Count,
                $"{compiled.Name}: {compiled.ParameterSlots} slots from the parameter types, {compiled.Function.Params.Count} IR parameters");
            checkedKernels++;
        }
        Assert.True(checkedKernels > 150, $"only {checkedKernels} kernels checked");
    }

    [Fact]
    public void EveryLibraryKernelEmitsPtxWithoutLocalMemory()
    {
        // Every specialisation Engine.Kernels can launch (the list ptxas gets on a GPU machine): PTX that
        // names its target and keeps registers, register arrays and structs out of local memory.
        var kernels = KernelInventory.All().ToList();
        Assert.True(kernels.Count >= 40, $"only {kernels.Count} library kernels found");
        foreach (MethodInfo kernel in kernels)
        {
            string ptx = PtxEmitter.Emit(KernelCompiler.Compile(kernel).Function, new PtxTarget(90), "kernel");
            Assert.Contains(".target sm_90", ptx);
            Assert.False(ptx.Contains(".local", StringComparison.Ordinal), $"{KernelInventory.Name(kernel)} uses local memory");
        }
    }

    [Fact]
    public void ADeferredKernelTranslatesNoIlUntilItsIrIsAskedFor()
    {
        MethodInfo kernel = typeof(FlashAttention).GetMethod("BackwardKernel", BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(typeof(HeadDim64), typeof(DenseSchedule));
        int builds = 0;
        var deferred = new CompiledKernel(kernel, () =>
        {
            builds++;
            return (KernelCompiler.CompileUncached(kernel).Function, true);
        });
        int slots = deferred.ParameterSlots;
        Assert.Contains("BackwardKernel<", deferred.Name);
        Assert.False(deferred.HasIr);
        Assert.Equal(0, builds);
        Assert.Equal(slots, deferred.Function.Params.Count);
        Assert.Equal(1, builds);
        _ = deferred.Function;
        Assert.Equal(1, builds);
    }

    [Fact]
    public void TheDiskCacheAnswersWithoutCompiling()
    {
        string folder = Path.Combine(Path.GetTempPath(), "engine-loading-" + Guid.NewGuid().ToString("N"));
        try
        {
            var target = new PtxTarget(90);
            MethodInfo kernel = typeof(FlashAttention).GetMethod("FinishKernel", BindingFlags.NonPublic | BindingFlags.Static)!;
            var cache = new PtxDiskCache(folder);
            Assert.Null(cache.TryGet(kernel, target));
            Assert.Equal(0, cache.Misses);
            string ptx = cache.GetOrCompile(kernel, target, out bool hit);
            Assert.False(hit);
            var fresh = new PtxDiskCache(folder);
            Assert.Equal(ptx, fresh.TryGet(kernel, target));
            Assert.Equal(1, fresh.Hits);
            Assert.Null(fresh.TryGet(kernel, new PtxTarget(80))); // Another target is another entry.
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
