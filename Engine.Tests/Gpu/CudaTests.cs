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

    [Fact]
    public void TensorCoreTileMatchesTheCpuMeaning()
    {
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
        // The fragment layouts are the hardware's only if the GPU agrees with the CPU meaning here.
        var rng = new Random(7);
        ushort[] a = Enumerable.Range(0, 256).Select(_ => BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() * 2 - 1))).ToArray();
        ushort[] b = Enumerable.Range(0, 128).Select(_ => BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() * 2 - 1))).ToArray();
        float[] c = Enumerable.Range(0, 128).Select(k => k * 0.01f).ToArray();
        var kernel = (Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>)TensorCoreKernels.MmaTile;
        using var gpu = new CudaAccelerator();
        using var cpu = new CpuAccelerator(32);
        float[] expected = (float[])KernelHarness.Run(kernel, KernelConfig.Linear(1, 32), [a, b, c, new float[128], 0], cpu, 32)[3];
        float[] actual = (float[])KernelHarness.Run(kernel, KernelConfig.Linear(1, 32), [a, b, c, new float[128], 0], gpu, 32)[3];
        for (int k = 0; k < 128; k++)
        {
            Assert.Equal(expected[k], actual[k], 1e-4);
        }
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
        Array[] expected = KernelHarness.Run(c.Kernel, config, args, cpu, gpu.WarpSize, c.Bind);
        Array[] actual = KernelHarness.Run(c.Kernel, config, args, gpu, gpu.WarpSize, c.Bind);
        for (int k = 0; k < expected.Length; k++)
        {
            KernelHarness.AssertSameBits(expected[k], actual[k], $"{name} on {gpu.Name}, argument {k}");
        }
    }
}
