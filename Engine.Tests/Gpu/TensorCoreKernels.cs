using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>Tensor-core and async-copy kernels.</summary>
public static class TensorCoreKernels
{
    private static uint PairA(ArrayView<ushort> a, int lane, int i) =>
        a[TensorCore.RowA(lane, i) * 16 + TensorCore.ColA(lane, i)] | ((uint)a[TensorCore.RowA(lane, i + 1) * 16 + TensorCore.ColA(lane, i + 1)] << 16);

    private static uint PairB(ArrayView<ushort> b, int lane, int i) =>
        b[TensorCore.RowB(lane, i) * 8 + TensorCore.ColB(lane, i)] | ((uint)b[TensorCore.RowB(lane, i + 1) * 8 + TensorCore.ColB(lane, i + 1)] << 16);

    private static int AtC(int lane, int i) => TensorCore.RowC(lane, i) * 8 + TensorCore.ColC(lane, i);

    /// <summary>One 16x8 tile: D = A (16x16, row-major 16-bit) * B (16x8, k-major) + C, per the fragment layouts.</summary>
    [Kernel]
    public static void MmaTile(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, ArrayView<float> d, int bf16)
    {
        int lane = Warp.LaneIdx;
        MmaFragmentA fa = default;
        fa.R0 = PairA(a, lane, 0);
        fa.R1 = PairA(a, lane, 2);
        fa.R2 = PairA(a, lane, 4);
        fa.R3 = PairA(a, lane, 6);
        MmaFragmentB fb = default;
        fb.R0 = PairB(b, lane, 0);
        fb.R1 = PairB(b, lane, 2);
        MmaAccumulator acc = default;
        acc.C0 = c[AtC(lane, 0)];
        acc.C1 = c[AtC(lane, 1)];
        acc.C2 = c[AtC(lane, 2)];
        acc.C3 = c[AtC(lane, 3)];
        MmaAccumulator result = bf16 != 0 ? TensorCore.MmaBF16(fa, fb, acc) : TensorCore.MmaF16(fa, fb, acc);
        d[AtC(lane, 0)] = result.C0;
        d[AtC(lane, 1)] = result.C1;
        d[AtC(lane, 2)] = result.C2;
        d[AtC(lane, 3)] = result.C3;
    }

    /// <summary>The same product with the tiles staged in shared memory and the fragments loaded by ldmatrix.</summary>
    [Kernel]
    public static void MmaFromShared(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> d)
    {
        ArrayView<ushort> sa = SharedMemory.Allocate<ushort>(256);
        ArrayView<ushort> sb = SharedMemory.Allocate<ushort>(128);
        int lane = Warp.LaneIdx;
        for (int k = lane; k < 256; k += 32)
        {
            sa[k] = a[k];
        }
        for (int k = lane; k < 128; k += 32)
        {
            sb[k] = b[k];
        }
        Group.Barrier();
        // Lanes 0..15 point at rows 0..15 of A at column 0, lanes 16..31 at column 8.
        MmaFragmentA fa = TensorCore.LoadMatrixX4(ref sa[(lane & 15) * 16 + (lane >> 4) * 8]);
        // B is stored k-major (row k holds the 8 columns n); transposing gives the k pairs a lane needs.
        MmaFragmentB fb = TensorCore.LoadMatrixX2Transposed(ref sb[(lane & 15) * 8]);
        MmaAccumulator acc = TensorCore.MmaF16(fa, fb, default);
        d[AtC(lane, 0)] = acc.C0;
        d[AtC(lane, 1)] = acc.C1;
        d[AtC(lane, 2)] = acc.C2;
        d[AtC(lane, 3)] = acc.C3;
        uint single = TensorCore.LoadMatrixX1(ref sa[(lane & 7) * 16]);
        uint transposed = TensorCore.LoadMatrixX1Transposed(ref sa[(lane & 7) * 16]);
        d[128 + lane] = TensorCore.UnpackHalf(single, false) + 2f * TensorCore.UnpackHalf(transposed, true);
    }

    [Kernel]
    public static void Pack(ArrayView<float> x, ArrayView<uint> halves, ArrayView<uint> bf16)
    {
        int i = Grid.GlobalIndexX;
        if (2 * i + 1 < x.Length)
        {
            halves[i] = TensorCore.PackHalf2(x[2 * i], x[2 * i + 1]);
            bf16[i] = TensorCore.PackBFloat162(x[2 * i], x[2 * i + 1]);
        }
    }

    public struct Quad
    {
        public float A, B, C, D;
    }

    [Kernel]
    public static void AsyncCopyReverse(ArrayView<float> input, ArrayView<Quad> quads, ArrayView<float> output)
    {
        ArrayView<float> tile = SharedMemory.Allocate<float>(64);
        ArrayView<Quad> quadTile = SharedMemory.Allocate<Quad>(64);
        int t = Group.IdxX;
        int i = Grid.GlobalIndexX;
        AsyncCopy.Copy(ref tile[t], ref input[i]);
        AsyncCopy.Commit();
        AsyncCopy.Copy(ref quadTile[t], ref quads[i]);
        AsyncCopy.Commit();
        AsyncCopy.Wait(0);
        Group.Barrier();
        Quad q = quadTile[63 - t];
        output[i] = tile[63 - t] + q.A - q.D;
    }
}

public class TensorCoreTests
{
    private static ushort Bits(float v, bool bf16) => bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16) : BitConverter.HalfToUInt16Bits((Half)v);

    private static float Value(ushort bits, bool bf16) => bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (float)BitConverter.UInt16BitsToHalf(bits);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MmaMatchesTheClrAndAPlainMatrixProduct(bool bf16)
    {
        var rng = new Random(Random.Shared.Next());
        ushort[] a = Enumerable.Range(0, 256).Select(_ => Bits((float)(rng.NextDouble() * 4 - 2), bf16)).ToArray();
        ushort[] b = Enumerable.Range(0, 128).Select(_ => Bits((float)(rng.NextDouble() * 4 - 2), bf16)).ToArray();
        float[] c = Enumerable.Range(0, 128).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] d = Enumerable.Repeat(float.NaN, 128).ToArray();
        Array[] results = KernelHarness.RunBoth((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>)TensorCoreKernels.MmaTile,
            KernelConfig.Linear(1, 32), 32, [a, b, c, d, bf16 ? 1 : 0]);
        float[] actual = (float[])results[3];
        for (int row = 0; row < 16; row++)
        {
            for (int col = 0; col < 8; col++)
            {
                double expected = c[row * 8 + col];
                for (int k = 0; k < 16; k++)
                {
                    expected += (double)Value(a[row * 16 + k], bf16) * Value(b[k * 8 + col], bf16);
                }
                Assert.Equal(expected, actual[row * 8 + col], 1e-5 * (1 + Math.Abs(expected)));
            }
        }
    }

    [Fact]
    public void LoadMatrixFeedsMmaLikeTheLayoutHelpers()
    {
        var rng = new Random(Random.Shared.Next());
        ushort[] a = Enumerable.Range(0, 256).Select(_ => Bits((float)(rng.NextDouble() * 4 - 2), false)).ToArray();
        ushort[] b = Enumerable.Range(0, 128).Select(_ => Bits((float)(rng.NextDouble() * 4 - 2), false)).ToArray();
        Array[] results = KernelHarness.RunBoth((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>)TensorCoreKernels.MmaFromShared,
            KernelConfig.Linear(1, 32), 32, [a, b, Enumerable.Repeat(float.NaN, 160).ToArray()]);
        float[] d = (float[])results[2];
        for (int row = 0; row < 16; row++)
        {
            for (int col = 0; col < 8; col++)
            {
                double expected = 0;
                for (int k = 0; k < 16; k++)
                {
                    expected += (double)Value(a[row * 16 + k], false) * Value(b[k * 8 + col], false);
                }
                Assert.Equal(expected, d[row * 8 + col], 1e-5 * (1 + Math.Abs(expected)));
            }
        }
        for (int lane = 0; lane < 32; lane++)
        {
            // x1: row lane/4, column 2*(lane%4) of the top-left 8x8; .trans: element (2*(lane%4)+1, lane/4).
            float plain = Value(a[(lane >> 2) * 16 + (lane & 3) * 2], false);
            float transposed = Value(a[((lane & 3) * 2 + 1) * 16 + (lane >> 2)], false);
            Assert.Equal(plain + 2f * transposed, d[128 + lane]);
        }
    }

    [Fact]
    public void MmaNeedsAFullWarpOf32()
    {
        using var cpu = new CpuAccelerator(warpSize: 4);
        using var a = cpu.Allocate<ushort>(256);
        using var b = cpu.Allocate<ushort>(128);
        using var c = cpu.Allocate<float>(128);
        var e = Assert.Throws<KernelExecutionException>(() => cpu.Launch((Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>)TensorCoreKernels.MmaTile,
            KernelConfig.Linear(1, 32), a.View, b.View, c.View, c.View, 0));
        Assert.Contains("needs a full warp of 32 lanes", e.Message);
    }

    [Fact]
    public void PackedPairsRoundToNearestEven()
    {
        float[] x = [1f, -2.5f, 1.00048828125f, 1.0009765625f, 65520f, float.NaN, 3.14159f, -0f, 1f + 1f / 128 + 1f / 256, 1f + 1f / 256];
        Array[] results = KernelHarness.RunBoth((Action<ArrayView<float>, ArrayView<uint>, ArrayView<uint>>)TensorCoreKernels.Pack,
            KernelConfig.Linear(1, 8), 32, [x, new uint[5], new uint[5]]);
        uint[] halves = (uint[])results[1], bf16 = (uint[])results[2];
        Assert.Equal(0x3C00u | (0xC100u << 16), halves[0]);              // 1.0 and -2.5 in f16.
        Assert.Equal(0x3F80u | (0xC020u << 16), bf16[0]);                // 1.0 and -2.5 in bf16.
        Assert.Equal(0x7C00u, halves[2] & 0xFFFF);                       // 65520 rounds up to f16 infinity.
        Assert.Equal(0x7FFFu, halves[2] >> 16);                          // NaN is canonical, as the hardware makes it.
        Assert.Equal(0x7FFFu, bf16[2] >> 16);                            // NaN is canonical.
        Assert.Equal(0x8000u, bf16[3] >> 16);                            // -0 keeps its sign.
        Assert.Equal(0x3F82u, bf16[4] & 0xFFFF);                         // 1 + 1.5 ulp: the tie goes to even (up).
        Assert.Equal(0x3F80u, bf16[4] >> 16);                            // 1 + 0.5 ulp: the tie goes to even (down).
    }

    [Theory]
    [InlineData(4)]
    [InlineData(32)]
    public void AsyncCopiesLandBeforeTheWait(int warpSize)
    {
        var rng = new Random(Random.Shared.Next());
        float[] input = Enumerable.Range(0, 128).Select(_ => (float)rng.NextDouble()).ToArray();
        TensorCoreKernels.Quad[] quads = Enumerable.Range(0, 128).Select(k => new TensorCoreKernels.Quad { A = k, B = 1, C = 2, D = k * 0.5f }).ToArray();
        Array[] results = KernelHarness.RunBoth((Action<ArrayView<float>, ArrayView<TensorCoreKernels.Quad>, ArrayView<float>>)TensorCoreKernels.AsyncCopyReverse,
            KernelConfig.Linear(2, 64), warpSize, [input, quads, Enumerable.Repeat(float.NaN, 128).ToArray()]);
        float[] output = (float[])results[2];
        for (int i = 0; i < 128; i++)
        {
            int j = i / 64 * 64 + 63 - i % 64;
            Assert.Equal(input[j] + j - j * 0.5f, output[i]);
        }
    }
}
