using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>
/// The CUDA accelerator. Without a GPU every test here skips with the reason; with one, every kernel of
/// the catalogue runs on the GPU and on the CPU accelerator (at the GPU's warp size) and the arrays must
/// agree bit for bit, except where the hardware is allowed to differ (approximate math, tensor-core
/// accumulation order), which is compared against stated bounds instead.
/// </summary>
public class CudaTests
{
    /// <summary>Catalogue cases not compared on a GPU, each with its reason.</summary>
    private static readonly Dictionary<string, string> ApproximateOnHardware = new()
    {
        // Same kernel as "FastMath within its documented error bounds", which runs here with the bound checks.
        ["fast math (CPU meaning)"] = "its kernel's .approx results are checked against the PTX ISA's bounds by the case 'FastMath within its documented error bounds'",
    };

    /// <summary>
    /// Cases whose results depend on what the CLR leaves open and the CPU accelerator fixes: the order in
    /// which threads reach an atomic, NaN payloads through arithmetic. On the GPU they are held to what
    /// every allowed outcome must satisfy.
    /// </summary>
    private static readonly Dictionary<string, Action<object[], Array[], Array[]>> OrderDependent = new()
    {
        // GPU arithmetic makes every NaN the canonical one; the CPU keeps payloads through float arithmetic
        // (neither is specified by the CLR). A NaN half computed from a NaN float is any NaN half.
        ["Half from float and double, widening, bit casts"] = (args, cpu, gpu) =>
        {
            ushort[] e = (ushort[])cpu[2], g = (ushort[])gpu[2];
            static bool IsNaN(ushort h) => (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
            for (int k = 0; k < e.Length; k++)
            {
                Assert.True(e[k] == g[k] || (k % 3 == 2 && IsNaN(e[k]) && IsNaN(g[k])), $"half bits {k}: CPU accelerator 0x{e[k]:X4}, GPU 0x{g[k]:X4}");
            }
            KernelHarness.AssertSameBits(cpu[3], gpu[3], "widened halves", "CPU accelerator", "GPU");
        },
        // The float total is a sum in whatever order the atomics land: close, not equal. The rest is exact.
        ["atomics: add, min, max, xor"] = (args, cpu, gpu) =>
        {
            KernelHarness.AssertSameBits(cpu[1], gpu[1], "bins", "CPU accelerator", "GPU");
            KernelHarness.AssertSameBits(cpu[3], gpu[3], "min, max, xor", "CPU accelerator", "GPU");
            float e = ((float[])cpu[2])[0], g = ((float[])gpu[2])[0];
            Assert.True(Math.Abs(e - g) <= 1e-5 * Math.Abs(e), $"float atomic total: CPU accelerator {e:R}, GPU {g:R}");
        },
        // Which thread wins a slot is the hardware's choice; the winner must be one of its candidates.
        ["atomics: compare-exchange, exchange, float min/max, long add"] = (args, cpu, gpu) =>
        {
            int[] slots = (int[])gpu[0];
            int threads = ((int[])args[1]).Length;
            for (int s = 0; s < slots.Length; s++)
            {
                Assert.True(slots[s] >= 1 && slots[s] <= threads && (slots[s] - 1) % slots.Length == s, $"slot {s} holds {slots[s]}, not one of its claimants + 1");
            }
            Assert.Equal(((float[])cpu[2])[1], ((float[])gpu[2])[1]);       // The minimum does not depend on order.
            KernelHarness.AssertSameBits(cpu[3], gpu[3], "long add", "CPU accelerator", "GPU");
        },
    };

    private static void RequireGpu()
    {
        if (CudaAccelerator.Unavailable is { } reason)
        {
            Assert.Skip($"No CUDA GPU: {reason}");
        }
    }

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
    public void DeviceQueryDescribesTheGpu()
    {
        RequireGpu();
        using var gpu = new CudaAccelerator();
        CudaDeviceInfo info = gpu.Info;
        Assert.False(string.IsNullOrWhiteSpace(info.Name));
        Assert.True(info.ComputeCapability >= 80, $"compute capability {info.ComputeCapability}: Engine.Gpu targets sm_80 and up");
        Assert.True(info.Multiprocessors > 0);
        Assert.True(info.TotalMemoryBytes > 1L << 30);
        Assert.Equal(32, gpu.WarpSize);
        Assert.Contains(CudaAccelerator.Devices, d => d.Name == info.Name);
        TestContext.Current.TestOutputHelper?.WriteLine($"{gpu.Name}: {info.Multiprocessors} SMs, {info.TotalMemoryBytes >> 20} MiB, max shared per group {gpu.MaxSharedBytesPerGroup} B");
    }

    public static TheoryData<string> CatalogueNames() => new(KernelCatalogueTests.Cases.Keys);

    [Theory]
    [MemberData(nameof(CatalogueNames))]
    public void CatalogueKernelMatchesTheCpuAccelerator(string name)
    {
        RequireGpu();
        if (ApproximateOnHardware.TryGetValue(name, out string? why))
        {
            Assert.Skip($"Not run on a GPU: {why}.");
        }
        KernelCatalogueTests.Case c = KernelCatalogueTests.Cases[name];
        var (config, args) = c.Setup(new Random(1234));
        using var gpu = new CudaAccelerator();
        using var cpu = new CpuAccelerator(gpu.WarpSize);
        Array[] actual = KernelHarness.Run(c.Kernel, config, args, gpu, gpu.WarpSize, c.Bind);
        if (c.Check is not null)
        {
            c.Check(args, actual);
        }
        if (name.Contains("documented error bounds", StringComparison.Ordinal))
        {
            return; // Approximate instructions: the bounds above are the contract, not the CPU's bits.
        }
        Array[] expected = KernelHarness.Run(c.Kernel, config, args, cpu, gpu.WarpSize, c.Bind);
        if (OrderDependent.TryGetValue(name, out var compare))
        {
            compare(args, expected, actual);
            return;
        }
        for (int k = 0; k < expected.Length; k++)
        {
            KernelHarness.AssertSameBits(expected[k], actual[k], $"{name} on {gpu.Name}, argument {k}", "CPU accelerator", "GPU");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TensorCoreTileMatchesTheCpuMeaning(bool bf16)
    {
        RequireGpu();
        // The fragment layouts are the hardware's only if the GPU agrees with the CPU meaning here. Tensor
        // cores add the 16 products in their own order and width, so the comparison is to a bound.
        var rng = new Random(7);
        ushort[] a = Enumerable.Range(0, 256).Select(_ => Bits((float)(rng.NextDouble() * 2 - 1), bf16)).ToArray();
        ushort[] b = Enumerable.Range(0, 128).Select(_ => Bits((float)(rng.NextDouble() * 2 - 1), bf16)).ToArray();
        float[] c = Enumerable.Range(0, 128).Select(k => k * 0.01f).ToArray();
        var kernel = (Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>)TensorCoreKernels.MmaTile;
        using var gpu = new CudaAccelerator();
        using var cpu = new CpuAccelerator(32);
        object[] args = [a, b, c, Enumerable.Repeat(float.NaN, 128).ToArray(), bf16 ? 1 : 0];
        float[] expected = (float[])KernelHarness.Run(kernel, KernelConfig.Linear(1, 32), args, cpu, 32)[3];
        float[] actual = (float[])KernelHarness.Run(kernel, KernelConfig.Linear(1, 32), args, gpu, 32)[3];
        AssertClose(expected, actual, 1e-5, $"mma.sync m16n8k16 {(bf16 ? "bf16" : "f16")} on {gpu.Name}");
    }

    [Fact]
    public void LdmatrixAndAsyncCopyMatchTheCpuMeaning()
    {
        RequireGpu();
        var rng = new Random(11);
        ushort[] a = Enumerable.Range(0, 256).Select(_ => Bits((float)(rng.NextDouble() * 4 - 2), false)).ToArray();
        ushort[] b = Enumerable.Range(0, 128).Select(_ => Bits((float)(rng.NextDouble() * 4 - 2), false)).ToArray();
        using var gpu = new CudaAccelerator();
        using var cpu = new CpuAccelerator(32);
        var shared = (Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>)TensorCoreKernels.MmaFromShared;
        object[] args = [a, b, Enumerable.Repeat(float.NaN, 160).ToArray()];
        float[] expected = (float[])KernelHarness.Run(shared, KernelConfig.Linear(1, 32), args, cpu, 32)[2];
        float[] actual = (float[])KernelHarness.Run(shared, KernelConfig.Linear(1, 32), args, gpu, 32)[2];
        AssertClose(expected[..128], actual[..128], 1e-5, $"ldmatrix x4/x2.trans + mma on {gpu.Name}");
        KernelHarness.AssertSameBits(expected[128..], actual[128..], $"ldmatrix x1 and x1.trans on {gpu.Name}", "CPU accelerator", "GPU");

        float[] input = Enumerable.Range(0, 128).Select(_ => (float)rng.NextDouble()).ToArray();
        TensorCoreKernels.Quad[] quads = Enumerable.Range(0, 128).Select(k => new TensorCoreKernels.Quad { A = k, B = 1, C = 2, D = k * 0.5f }).ToArray();
        var copy = (Action<ArrayView<float>, ArrayView<TensorCoreKernels.Quad>, ArrayView<float>>)TensorCoreKernels.AsyncCopyReverse;
        object[] copyArgs = [input, quads, Enumerable.Repeat(float.NaN, 128).ToArray()];
        KernelHarness.AssertSameBits(KernelHarness.Run(copy, KernelConfig.Linear(2, 64), copyArgs, cpu, 32)[2],
            KernelHarness.Run(copy, KernelConfig.Linear(2, 64), copyArgs, gpu, 32)[2], $"cp.async 4 and 16 bytes on {gpu.Name}", "CPU accelerator", "GPU");

        float[] x = [1f, -2.5f, 1.00048828125f, 1.0009765625f, 65520f, float.NaN, 3.14159f, -0f, 1f + 1f / 128 + 1f / 256, 1f + 1f / 256];
        var pack = (Action<ArrayView<float>, ArrayView<uint>, ArrayView<uint>>)TensorCoreKernels.Pack;
        object[] packArgs = [x, new uint[5], new uint[5]];
        Array[] packCpu = KernelHarness.Run(pack, KernelConfig.Linear(1, 8), packArgs, cpu, 32);
        Array[] packGpu = KernelHarness.Run(pack, KernelConfig.Linear(1, 8), packArgs, gpu, 32);
        KernelHarness.AssertSameBits(packCpu[1], packGpu[1], $"cvt.rn.f16x2 on {gpu.Name}", "CPU accelerator", "GPU");
        // NaN payloads of the bf16 pack are hardware-defined; the harness's float rule does not apply to
        // packed uints, so compare the NaN lane only as "is a bf16 NaN".
        uint[] bc = (uint[])packCpu[2], bg = (uint[])packGpu[2];
        for (int k = 0; k < bc.Length; k++)
        {
            for (int half = 0; half < 2; half++)
            {
                uint e = (bc[k] >> (16 * half)) & 0xFFFF, g = (bg[k] >> (16 * half)) & 0xFFFF;
                bool eNaN = (e & 0x7F80) == 0x7F80 && (e & 0x7F) != 0, gNaN = (g & 0x7F80) == 0x7F80 && (g & 0x7F) != 0;
                Assert.True(e == g || (eNaN && gNaN), $"cvt.rn.bf16x2 on {gpu.Name}: pair {k} half {half}: CPU 0x{e:X4}, GPU 0x{g:X4}");
            }
        }
    }

    private static ushort Bits(float v, bool bf16) => bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16) : BitConverter.HalfToUInt16Bits((Half)v);

    private static void AssertClose(float[] expected, float[] actual, double bound, string what)
    {
        double diff = 0, norm = 0;
        for (int k = 0; k < expected.Length; k++)
        {
            Assert.False(float.IsNaN(actual[k]), $"{what}: element {k} is NaN (poisoned output never written?)");
            diff += Math.Pow(expected[k] - actual[k], 2);
            norm += Math.Pow(expected[k], 2);
        }
        double relative = Math.Sqrt(diff / Math.Max(norm, double.Epsilon));
        Assert.True(relative <= bound, $"{what}: relative error norm {relative:E2} > {bound:E2}");
    }
}
