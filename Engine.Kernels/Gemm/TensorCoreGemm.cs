using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>16 bytes: eight bf16 values, the unit of cp.async and of a shared-memory row chunk.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct Chunk16
{
    public uint W0, W1, W2, W3;
}

/// <summary>A warp's 4 x 4 grid of 16x8 accumulator tiles (64 floats a lane), kept in registers.</summary>
[InlineArray(16)]
internal struct AccumulatorTiles
{
    private MmaAccumulator _element;
}

/// <summary>A warp's four A fragments (16x16 each) for one k16 step.</summary>
[InlineArray(4)]
internal struct FragmentsA
{
    private MmaFragmentA _element;
}

/// <summary>A warp's four B fragments (16x8 each) for one k16 step.</summary>
[InlineArray(4)]
internal struct FragmentsB
{
    private MmaFragmentB _element;
}

/// <summary>The depth of one pipeline stage, a compile-time constant of the GEMM kernel.</summary>
internal interface IGemmDepth
{
    /// <summary>K per stage: 32 or 64.</summary>
    static abstract int BlockK { get; }
}

/// <summary>32 of K per stage: 48 KB of shared memory for three stages.</summary>
internal struct Depth32 : IGemmDepth
{
    public static int BlockK => 32;
}

/// <summary>64 of K per stage: half the barriers per FLOP, 96 KB of shared memory for three stages.</summary>
internal struct Depth64 : IGemmDepth
{
    public static int BlockK => 64;
}

/// <summary>
/// C = A·Bᵀ in bf16 on tensor cores (mma.sync m16n8k16, fp32 accumulation), the product every
/// linear layer of the GPT does: A is [M, K] row-major, B is [N, K] row-major (a weight in
/// nn.Linear's layout), C is [M, N] row-major, rounded to bf16 once at the end.
/// </summary>
/// <remarks>
/// One group of 256 threads computes a 128x128 block of C; its 8 warps are 2 (M) by 4 (N), 64x32 of C
/// each, 16 accumulator tiles a lane. K advances 64 at a time (32 where K is not a multiple of 64)
/// through a 3-stage cp.async pipeline in dynamic shared memory (96 or 48 KB): while the tensor cores
/// work on one stage, the next two are in flight. Shared rows are XOR-swizzled by 16-byte chunk so
/// the eight rows one ldmatrix reads fall in eight different bank groups.
/// </remarks>
public static class TensorCoreGemm
{
    /// <summary>Rows of C per group.</summary>
    public const int BlockM = 128;

    /// <summary>Columns of C per group.</summary>
    public const int BlockN = 128;

    /// <summary>The smallest K step a shape may have (the shallower of the two stage depths).</summary>
    public const int BlockK = 32;

    private const int Stages = 3;
    private const int Threads = 256;

    /// <summary>Shared memory of one group: both operands, every stage.</summary>
    internal static int SharedBytes<TDepth>() where TDepth : struct, IGemmDepth => 2 * Stages * BlockM * TDepth.BlockK * 2;

    /// <summary>
    /// Where chunk <paramref name="chunk"/> of tile row <paramref name="row"/> lives in a stage: rows of
    /// 4 chunks (64 bytes) XOR with (row/2) mod 4, rows of 8 chunks (128 bytes) with row mod 8, so the
    /// eight rows one ldmatrix reads at one chunk column land in eight different 16-byte bank groups.
    /// </summary>
    private static int Swizzled<TDepth>(int row, int chunk) where TDepth : struct, IGemmDepth =>
        TDepth.BlockK == 32 ? row * 4 + (chunk ^ ((row >> 1) & 3)) : row * 8 + (chunk ^ (row & 7));

    private static void LoadStage<TDepth>(ArrayView<Chunk16> a, ArrayView<Chunk16> b, ArrayView<Chunk16> sa, ArrayView<Chunk16> sb,
        int stage, int kTile, int rowA, int rowB, int chunksPerGlobalRow) where TDepth : struct, IGemmDepth
    {
        int chunksPerRow = TDepth.BlockK / 8;
        int stageChunks = BlockM * chunksPerRow;
        int t = Group.IdxX;
        for (int i = 0; i < BlockM * (TDepth.BlockK / 8) / Threads; i++)
        {
            int q = t + i * Threads;
            int row = q / chunksPerRow, chunk = q % chunksPerRow;
            int global = kTile * chunksPerRow + chunk;
            AsyncCopy.Copy(ref sa[stage * stageChunks + Swizzled<TDepth>(row, chunk)], ref a[(rowA + row) * chunksPerGlobalRow + global]);
            AsyncCopy.Copy(ref sb[stage * stageChunks + Swizzled<TDepth>(row, chunk)], ref b[(rowB + row) * chunksPerGlobalRow + global]);
        }
    }

    [Kernel]
    internal static void Bf16NtKernel<TDepth>(ArrayView<Chunk16> a, ArrayView<Chunk16> b, ArrayView<uint> c, int n, int k)
        where TDepth : struct, IGemmDepth
    {
        int stageChunks = BlockM * (TDepth.BlockK / 8);
        ArrayView<Chunk16> shared = SharedMemory.GetDynamic<Chunk16>();
        ArrayView<Chunk16> sa = shared.SubView(0, Stages * stageChunks);
        ArrayView<Chunk16> sb = shared.SubView(Stages * stageChunks, Stages * stageChunks);
        ArrayView<ushort> sa16 = sa.Cast<ushort>();
        ArrayView<ushort> sb16 = sb.Cast<ushort>();
        int rowA = Grid.IdxY * BlockM, rowB = Grid.IdxX * BlockN;
        int chunksPerGlobalRow = k / 8;
        int kTiles = k / TDepth.BlockK;
        int lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;

        for (int s = 0; s < Stages - 1; s++)
        {
            if (s < kTiles)
            {
                LoadStage<TDepth>(a, b, sa, sb, s, s, rowA, rowB, chunksPerGlobalRow);
            }
            AsyncCopy.Commit();
        }

        AccumulatorTiles acc = default;
        for (int kt = 0; kt < kTiles; kt++)
        {
            AsyncCopy.Wait(Stages - 2); // Stage kt has landed (for this thread) ...
            Group.Barrier();            // ... for every thread, and everyone is done with the stage refilled next.
            int next = kt + Stages - 1;
            if (next < kTiles)
            {
                LoadStage<TDepth>(a, b, sa, sb, next % Stages, next, rowA, rowB, chunksPerGlobalRow);
            }
            AsyncCopy.Commit();

            int stage = (kt % Stages) * stageChunks;
            for (int kk = 0; kk < TDepth.BlockK / 16; kk++)
            {
                FragmentsA fa = default;
                for (int i = 0; i < 4; i++)
                {
                    // Lanes 0-15 name rows 0-15 at the step's first chunk, lanes 16-31 at its second.
                    int row = warpRow + i * 16 + (lane & 15);
                    fa[i] = TensorCore.LoadMatrixX4(ref sa16[(stage + Swizzled<TDepth>(row, kk * 2 + (lane >> 4))) * 8]);
                }
                FragmentsB fb = default;
                for (int j = 0; j < 2; j++)
                {
                    // Four 8x8 matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15);
                    // B's rows are n with k contiguous, so the plain (non-transposed) load is the B fragment.
                    int row = warpCol + j * 16 + (lane & 7) + ((lane >> 4) << 3);
                    MmaFragmentA four = TensorCore.LoadMatrixX4(ref sb16[(stage + Swizzled<TDepth>(row, kk * 2 + ((lane >> 3) & 1))) * 8]);
                    MmaFragmentB low = default, high = default;
                    low.R0 = four.R0;
                    low.R1 = four.R1;
                    high.R0 = four.R2;
                    high.R1 = four.R3;
                    fb[2 * j] = low;
                    fb[2 * j + 1] = high;
                }
                for (int i = 0; i < 4; i++)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        acc[i * 4 + j] = TensorCore.MmaBF16(fa[i], fb[j], acc[i * 4 + j]);
                    }
                }
            }
        }
        AsyncCopy.Wait(0);

        // Each lane holds rows lane/4 and lane/4 + 8 of every tile, two adjacent columns: one bf16 pair each.
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                int row = rowA + warpRow + i * 16 + (lane >> 2);
                int col = rowB + warpCol + j * 8 + (lane & 3) * 2;
                MmaAccumulator t = acc[i * 4 + j];
                c[(row * n + col) >> 1] = TensorCore.PackBFloat162(t.C0, t.C1);
                c[((row + 8) * n + col) >> 1] = TensorCore.PackBFloat162(t.C2, t.C3);
            }
        }
    }

    /// <summary>
    /// C = A·Bᵀ: <paramref name="a"/> is [M, K], <paramref name="b"/> is [N, K], <paramref name="c"/> is [M, N],
    /// all bf16 and row-major; accumulation in fp32, one rounding to bf16. M and N must be multiples of
    /// 128 and K of 32 (the tile; smaller or ragged shapes are not supported yet).
    /// </summary>
    /// <param name="accelerator">Where the views live: a CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="a">The left operand, M×K.</param>
    /// <param name="b">The right operand, N×K (each row one output column's weights).</param>
    /// <param name="c">The result, M×N.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">Columns of A and B.</param>
    public static void Bf16Nt(Accelerator accelerator, ArrayView<BFloat16> a, ArrayView<BFloat16> b, ArrayView<BFloat16> c, int m, int n, int k)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (m <= 0 || n <= 0 || k <= 0 || m % BlockM != 0 || n % BlockN != 0 || k % BlockK != 0)
        {
            throw new ArgumentException(
                $"GEMM shape M={m}, N={n}, K={k}: the tensor-core kernel needs M and N to be positive multiples of {BlockM} and K of {BlockK}. Pad the operands, or use the CPU backend's GEMM for ragged shapes.");
        }
        Require(a, (long)m * k, "a", $"[M={m}, K={k}]");
        Require(b, (long)n * k, "b", $"[N={n}, K={k}]");
        Require(c, (long)m * n, "c", $"[M={m}, N={n}]");
        if (accelerator.WarpSize != 32)
        {
            throw new ArgumentException($"The tensor-core GEMM needs warps of 32 lanes; {accelerator.Name} has {accelerator.WarpSize}.", nameof(accelerator));
        }
        if (k % 64 == 0 && !ForceDepth32)
        {
            Launch<Depth64>(accelerator, a, b, c, m, n, k);
        }
        else
        {
            Launch<Depth32>(accelerator, a, b, c, m, n, k);
        }
    }

    /// <summary>Benchmarks set this to measure the 32-deep stages where 64 would be chosen.</summary>
    internal static bool ForceDepth32 { get; set; }

    private static void Launch<TDepth>(Accelerator accelerator, ArrayView<BFloat16> a, ArrayView<BFloat16> b, ArrayView<BFloat16> c, int m, int n, int k)
        where TDepth : struct, IGemmDepth
    {
        var config = new KernelConfig(new Index3D(n / BlockN, m / BlockM), new Index3D(Threads), SharedBytes<TDepth>());
        accelerator.LoadKernel<ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<uint>, int, int>(Bf16NtKernel<TDepth>)(
            config, a.Cast<Chunk16>(), b.Cast<Chunk16>(), c.Cast<uint>(), n, k);
    }

    /// <summary>Floating-point operations of one product: 2·M·N·K.</summary>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The inner dimension.</param>
    public static double Flops(long m, long n, long k) => 2.0 * m * n * k;

    private static void Require(ArrayView<BFloat16> view, long elements, string name, string shape)
    {
        if (view.Length != elements)
        {
            throw new ArgumentException($"{name} has {view.Length} elements; the shape {shape} needs {elements}.", name);
        }
    }
}
