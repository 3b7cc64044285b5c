using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

public static class FaultyKernels
{
    [Kernel]
    public static void OffByOne(ArrayView<float> data)
    {
        int i = Grid.GlobalIndexX;
        data[i + 1] = 1f;
    }

    [Kernel]
    public static void SharedOutOfRange(ArrayView<int> data)
    {
        ArrayView<int> tile = SharedMemory.Allocate<int>(4);
        tile[Group.IdxX] = data[Group.IdxX];
    }

    [Kernel]
    public static void BarrierInBranch(ArrayView<int> data)
    {
        if (Group.IdxX < 3)
        {
            Group.Barrier();
        }
        data[Group.IdxX] = 1;
    }

    [Kernel]
    public static void ReturnBeforeBarrier(ArrayView<int> data)
    {
        if (Group.IdxX >= data.Length)
        {
            return;
        }
        Group.Barrier();
        data[Group.IdxX] = 2;
    }

    [Kernel]
    public static void ShuffleInBranch(ArrayView<int> data)
    {
        int x = data[Group.IdxX];
        if (Warp.LaneIdx == 0)
        {
            x = Warp.ShuffleXor(x, 1);
        }
        data[Group.IdxX] = x;
    }

    [Kernel]
    public static void DividesByZero(ArrayView<int> data)
    {
        int i = Grid.GlobalIndexX;
        data[i] = 100 / data[i];
    }

    [Kernel]
    public static void BadSlice(ArrayView<int> data)
    {
        ArrayView<int> part = data.SubView(Grid.GlobalIndexX, 4);
        part[0] = 1;
    }
}

public class ExecutionErrorTests
{
    private static KernelExecutionException Fails<T>(Action<ArrayView<T>> kernel, KernelConfig config, T[] data, int warpSize = 4) where T : unmanaged
    {
        using var cpu = new CpuAccelerator(warpSize);
        using MemoryBuffer<T> buffer = cpu.Allocate<T>(data);
        var launch = cpu.LoadKernel(kernel);
        return Assert.Throws<KernelExecutionException>(() => launch(config, buffer.View));
    }

    [Fact]
    public void OutOfRangeIndexNamesKernelThreadAndIndex()
    {
        var e = Fails<float>(FaultyKernels.OffByOne, KernelConfig.Linear(2, 4), new float[8]);
        Assert.Contains("Kernel FaultyKernels.OffByOne", e.Message);
        Assert.Contains("thread (3, 0, 0) of group (1, 0, 0)", e.Message);
        Assert.Contains("index 8 is out of range for a view of length 8", e.Message);
        Assert.Contains("FaultyKernels.OffByOne IL_", e.Message);
    }

    [Theory]
    [InlineData(1, 65536, 1, 1, 1, 1, "limit of 65535 along y and z")]
    [InlineData(1, 1, 65536, 1, 1, 1, "limit of 65535 along y and z")]
    [InlineData(1, 1, 1, 1, 1, 65, "64 along z")]
    public void LaunchesPastCudaLimitsFailOnTheInterpreterToo(int gx, int gy, int gz, int bx, int by, int bz, string expected)
    {
        // The interpreter could run these; a GPU refuses them, so the tests without a GPU must too.
        using var cpu = new CpuAccelerator(4);
        using MemoryBuffer<float> buffer = cpu.Allocate<float>(new float[8]);
        var launch = cpu.LoadKernel<ArrayView<float>>(FaultyKernels.OffByOne);
        var e = Assert.Throws<ArgumentException>(() => launch(new KernelConfig(new Index3D(gx, gy, gz), new Index3D(bx, by, bz)), buffer.View));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void SharedMemoryIsBoundsCheckedToo()
    {
        var e = Fails<int>(FaultyKernels.SharedOutOfRange, KernelConfig.Linear(1, 8), new int[8]);
        Assert.Contains("index 4 is out of range for a view of length 4", e.Message);
        Assert.Contains("thread (4, 0, 0)", e.Message);
    }

    [Fact]
    public void BarrierReachedByPartOfTheGroupIsDivergence()
    {
        var e = Fails<int>(FaultyKernels.BarrierInBranch, KernelConfig.Linear(1, 8), new int[8]);
        Assert.Contains("divergent Group.Barrier", e.Message);
        Assert.Contains("threads 0..2 (3) waited at FaultyKernels.BarrierInBranch IL_", e.Message);
        Assert.Contains("threads 3..7 (5) had finished", e.Message);
    }

    [Fact]
    public void ReturningBeforeABarrierIsDivergence()
    {
        var e = Fails<int>(FaultyKernels.ReturnBeforeBarrier, KernelConfig.Linear(1, 8), new int[6]);
        Assert.Contains("divergent Group.Barrier", e.Message);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(32)]
    public void ShuffleOnSomeLanesIsDivergence(int warpSize)
    {
        var e = Fails<int>(FaultyKernels.ShuffleInBranch, KernelConfig.Linear(1, 32), new int[32], warpSize);
        Assert.Contains("divergent warp collective", e.Message);
        Assert.Contains("had finished", e.Message);
    }

    [Fact]
    public void IntegerDivisionByZeroTrapsLikeTheClr()
    {
        var e = Fails<int>(FaultyKernels.DividesByZero, KernelConfig.Linear(1, 4), [1, 2, 0, 4]);
        Assert.Contains("integer division by zero", e.Message);
        Assert.Contains("thread (2, 0, 0)", e.Message);
    }

    [Fact]
    public void SubViewOutsideTheViewIsReported()
    {
        var e = Fails<int>(FaultyKernels.BadSlice, KernelConfig.Linear(1, 8), new int[8]);
        Assert.Contains("SubView(5, 4) does not fit in a view of length 8", e.Message);
    }

    [Fact]
    public void TheClrMeaningOfAnIntrinsicOutsideAKernelSaysWhatToDo()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Group.Barrier());
        Assert.Contains("Group.Barrier was called outside a running kernel", e.Message);
    }
}
