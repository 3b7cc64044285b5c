using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>The CUDA accelerator: skipped visibly without a GPU, compared with the CPU accelerator with one.</summary>
public class CudaTests
{
    [Fact]
    public void MissingDriverOrGpuIsReportedClearly()
    {
        string? reason = CudaAccelerator.Unavailable;
        if (reason is null)
        {
            Assert.Skip("A CUDA GPU is present; the missing-driver message cannot be observed here.");
        }
        var e = Assert.Throws<CudaException>(() => new CudaAccelerator());
        Assert.Equal(reason, e.Message);
        Assert.True(e.Message.Contains("no CUDA driver found (libcuda.so.1", StringComparison.Ordinal) || e.Message.Contains("nvcuda.dll", StringComparison.Ordinal)
            || e.Message.Contains("no GPU", StringComparison.Ordinal), e.Message);
        Assert.Empty(CudaAccelerator.Devices);
    }

    [Theory]
    [InlineData("int arithmetic")]
    [InlineData("nested loops, break, continue, do-while")]
    [InlineData("struct values and methods")]
    [InlineData("shared memory tree reduction")]
    [InlineData("warp butterfly (ShuffleXor)")]
    [InlineData("warp votes")]
    [InlineData("atomics on shared memory")]
    public void CatalogueKernelMatchesTheCpuAccelerator(string name)
    {
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
        KernelCatalogueTests.Case c = KernelCatalogueTests.Cases[name];
        var (config, args) = c.Setup(new Random(1234));
        using var gpu = new CudaAccelerator();
        using var cpu = new CpuAccelerator(gpu.WarpSize);
        Array[] expected = KernelHarness.Run(c.Kernel, config, args, cpu, gpu.WarpSize);
        Array[] actual = KernelHarness.Run(c.Kernel, config, args, gpu, gpu.WarpSize);
        for (int k = 0; k < expected.Length; k++)
        {
            KernelHarness.AssertSameBits(expected[k], actual[k], $"{name} on {gpu.Name}, argument {k}");
        }
    }
}
