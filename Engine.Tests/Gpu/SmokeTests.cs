using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

public static class SmokeKernels
{
    [Kernel]
    public static void Scale(ArrayView<float> data, float factor)
    {
        int i = Grid.GlobalIndexX;
        if (i < data.Length)
        {
            data[i] = data[i] * factor;
        }
    }
}

public class SmokeTests
{
    [Fact]
    public void ScaleRunsOnTheCpuAccelerator()
    {
        using var cpu = new CpuAccelerator(warpSize: 4);
        using MemoryBuffer<float> buffer = cpu.Allocate<float>([1f, 2f, 3f, 4f, 5f]);
        var scale = cpu.LoadKernel<ArrayView<float>, float>(SmokeKernels.Scale);
        scale(KernelConfig.Linear(2, 4), buffer.View, 2f);
        Assert.Equal([2f, 4f, 6f, 8f, 10f], buffer.GetAsArray());
    }
}
