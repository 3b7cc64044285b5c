using System.Reflection;
using Engine.Gpu;
using Engine.Kernels;

namespace Engine.Tests.Gpu;

/// <summary>
/// The occupancy helpers against what the kernels' resources imply (skipped visibly without a GPU):
/// a light kernel fills a multiprocessor's thread slots, the wide GEMM tile's 144 KB of shared memory
/// leaves room for one group, and an opt-in beyond what the device allows is refused with the limit.
/// </summary>
public class CudaOccupancyTests
{
    [Kernel]
    internal static void Twice(ArrayView<float> x)
    {
        int i = Grid.GlobalIndexX;
        if (i < x.Length)
        {
            x[i] *= 2f;
        }
    }

    private static CudaAccelerator Open()
    {
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
        return new CudaAccelerator();
    }

    [Fact]
    public void ALightKernelFillsTheMultiprocessor()
    {
        using CudaAccelerator gpu = Open();
        Action<ArrayView<float>> kernel = Twice;
        CudaKernelInfo info = gpu.GetKernelInfo(kernel);
        Assert.InRange(info.Registers, 1, 32);
        Assert.Equal(0, info.LocalBytes);
        Assert.Equal(0, info.StaticSharedBytes);
        Assert.Equal(gpu.MaxGroupSize, info.MaxGroupSize);
        Assert.Equal(gpu.Info.ComputeCapability, info.BinaryVersion);
        Assert.Equal(gpu.MaxThreadsPerMultiprocessor / 256, gpu.MaxActiveGroupsPerMultiprocessor(kernel, 256));
        Assert.Equal(1.0, gpu.Occupancy(kernel, 256), 6);
        var (groupSize, minGrid) = gpu.SuggestGroupSize(kernel);
        Assert.True(groupSize % gpu.WarpSize == 0 && groupSize <= gpu.MaxGroupSize, $"suggested group size {groupSize}");
        Assert.True(minGrid >= gpu.Info.Multiprocessors, $"suggested grid {minGrid} for {gpu.Info.Multiprocessors} multiprocessors");
    }

    [Fact]
    public void SharedMemoryAndRegistersLimitTheWideGemmTile()
    {
        using CudaAccelerator gpu = Open();
        MethodInfo method = typeof(TensorCoreGemm).GetMethod("Bf16Kernel", BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(typeof(Tile128x256x64), typeof(KInner), typeof(KInner), typeof(PlainEpilogue));
        Delegate kernel = Delegate.CreateDelegate(typeof(Action<ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<uint>, ArrayView<uint>, int, int, int, GemmBlend>), method);
        CudaKernelInfo info = gpu.GetKernelInfo(kernel);
        Assert.Equal(0, info.LocalBytes); // 128 accumulators a lane, and no spills.
        Assert.InRange(info.Registers, 129, 255);
        int shared = TensorCoreGemm.SharedBytes<Tile128x256x64>();
        Assert.Equal(1, gpu.MaxActiveGroupsPerMultiprocessor(kernel, 256, shared));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => gpu.MaxActiveGroupsPerMultiprocessor(kernel, 256, gpu.MaxSharedBytesPerGroup + 1));
        Assert.Contains(gpu.MaxSharedBytesPerGroup.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => gpu.MaxActiveGroupsPerMultiprocessor(kernel, gpu.MaxGroupSize + 1, shared));
    }
}
