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

/// <summary>A warp's grid of 16x8 accumulator tiles (4 x 4 or 4 x 8: 64 or 128 floats a lane), kept in registers.</summary>
[InlineArray(32)]
internal struct AccumulatorTiles
{
    private MmaAccumulator _element;
}

/// <summary>Per-lane offsets computed once before the K loop (copies and ldmatrix rows), in registers.</summary>
[InlineArray(8)]
internal struct Offsets
{
    private int _element;
}

/// <summary>A warp's four A fragments (16x16 each) for one k16 step.</summary>
[InlineArray(4)]
internal struct FragmentsA
{
    private MmaFragmentA _element;
}

/// <summary>A warp's four or eight B fragments (16x8 each) for one k16 step.</summary>
[InlineArray(8)]
internal struct FragmentsB
{
    private MmaFragmentB _element;
}

/// <summary>The compile-time shape of the GEMM kernel: the depth of a pipeline stage and each warp's width.</summary>
internal interface IGemmTile
{
    /// <summary>K per stage: 32 or 64.</summary>
    static abstract int BlockK { get; }

    /// <summary>16x8 accumulator tiles across each warp's N: 4 (a 64x32 warp tile) or 8 (64x64).</summary>
    static abstract int WarpTilesN { get; }
}

/// <summary>How an operand lies in memory relative to the reduction dimension K.</summary>
internal interface IOperandLayout
{
    /// <summary>True when K is the contiguous (inner) dimension: A as [M, K], B as [N, K].</summary>
    static abstract bool KInner { get; }
}

/// <summary>K contiguous: A stored [M, K] or B stored [N, K] (a weight in nn.Linear's layout).</summary>
internal struct KInner : IOperandLayout
{
    static bool IOperandLayout.KInner => true;
}

/// <summary>K outermost: A stored [K, M] or B stored [K, N], read through ldmatrix.trans.</summary>
internal struct KOuter : IOperandLayout
{
    static bool IOperandLayout.KInner => false;
}

/// <summary>What the kernel does with each fp32 result before rounding it to bf16.</summary>
internal interface IGemmEpilogue
{
    /// <summary>True: C = α·(A·B) + β·D; false: C = A·B (no D is read).</summary>
    static abstract bool Blends { get; }
}

/// <summary>C = A·B.</summary>
internal struct PlainEpilogue : IGemmEpilogue
{
    public static bool Blends => false;
}

/// <summary>C = α·(A·B) + β·D, in fp32 before the one rounding (D may be C itself).</summary>
internal struct BlendEpilogue : IGemmEpilogue
{
    public static bool Blends => true;
}

/// <summary>The blend's scalars.</summary>
internal struct GemmBlend
{
    public float Alpha;
    public float Beta;
}

/// <summary>128x128 blocks, 32 of K per stage: 48 KB of shared memory for three stages.</summary>
internal struct Tile128x128x32 : IGemmTile
{
    public static int BlockK => 32;

    public static int WarpTilesN => 4;
}

/// <summary>128x128 blocks, 64 of K per stage: half the barriers per FLOP, 96 KB of shared memory.</summary>
internal struct Tile128x128x64 : IGemmTile
{
    public static int BlockK => 64;

    public static int WarpTilesN => 4;
}

/// <summary>
/// 128x256 blocks, 64 of K per stage, 64x64 per warp: a third fewer shared-memory reads per mma than
/// the 64x32 warp tile, at the price of 128 accumulator registers a lane and 144 KB of shared memory.
/// </summary>
internal struct Tile128x256x64 : IGemmTile
{
    public static int BlockK => 64;

    public static int WarpTilesN => 8;
}

/// <summary>
/// C = op(A)·op(B) in bf16 on tensor cores (mma.sync m16n8k16, fp32 accumulation), every product a
/// linear layer's forward and backward passes do: A·Bᵀ (forward, B a weight in nn.Linear's layout),
/// A·B (input gradient) and Aᵀ·B (weight gradient); C is [M, N] row-major, rounded to bf16 once.
/// </summary>
/// <remarks>
/// One group of 256 threads computes a 128x128 or 128x256 block of C; its 8 warps are 2 (M) by 4 (N),
/// 64x32 or 64x64 of C each (16 or 32 accumulator tiles a lane). K advances 64 at a time (32 where K
/// is not a multiple of 64) through a 3-stage cp.async pipeline in dynamic shared memory: while the
/// tensor cores work on one stage, the next two are in flight. Shared rows are XOR-swizzled by 16-byte chunk so
/// the eight rows one ldmatrix reads fall in eight different bank groups.
/// </remarks>
public static class TensorCoreGemm
{
    /// <summary>Rows of C per group.</summary>
    public const int BlockM = 128;

    /// <summary>Columns of C per group with the narrow warp tile (the wide one covers 256).</summary>
    public const int BlockN = 128;

    /// <summary>The smallest K step a shape may have (the shallower of the two stage depths).</summary>
    public const int BlockK = 32;

    private const int Stages = 3;
    private const int Threads = 256;

    /// <summary>Shared memory of one group: both operands, every stage.</summary>
    internal static int SharedBytes<TTile>() where TTile : struct, IGemmTile => Stages * (BlockM + ColumnsOf<TTile>()) * TTile.BlockK * 2;

    /// <summary>Columns of C one group computes: four warps across N.</summary>
    internal static int ColumnsOf<TTile>() where TTile : struct, IGemmTile => 4 * 8 * TTile.WarpTilesN;

    /// <summary>
    /// Where chunk <paramref name="chunk"/> of tile row <paramref name="row"/> lives in a stage: rows of
    /// 4 chunks (64 bytes) XOR with (row/2) mod 4, rows of 8 chunks (128 bytes) with row mod 8, so the
    /// eight rows one ldmatrix reads at one chunk column land in eight different 16-byte bank groups.
    /// </summary>
    internal static int Swizzled<TTile>(int row, int chunk) where TTile : struct, IGemmTile =>
        TTile.BlockK == 32 ? row * 4 + (chunk ^ ((row >> 1) & 3)) : row * 8 + (chunk ^ (row & 7));

    /// <summary>log2 of the 16-byte chunks in a stage row: 2 for 32-deep stages, 3 for 64-deep.</summary>
    private static int ChunkShift<TTile>() where TTile : struct, IGemmTile => TTile.BlockK == 32 ? 2 : 3;

    /// <summary>
    /// Where chunk <paramref name="chunk"/> of row <paramref name="row"/> lives in a stage whose rows run
    /// along M or N (K-outer operands: 16 or 32 chunks a row): XOR with row mod 8, so the eight K rows one
    /// ldmatrix.trans phase reads, and eight consecutive copies, land in eight different bank groups.
    /// </summary>
    internal static int SwizzledWide(int row, int chunk, int chunksPerRow) => row * chunksPerRow + (chunk ^ (row & 7));

    [Kernel]
    internal static void Bf16Kernel<TTile, TA, TB, TEpilogue>(ArrayView<Chunk16> a, ArrayView<Chunk16> b, ArrayView<uint> c, ArrayView<uint> d, int m, int n, int k, GemmBlend blend)
        where TTile : struct, IGemmTile
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
        where TEpilogue : struct, IGemmEpilogue
    {
        int chunksPerRow = TTile.BlockK / 8;
        int stageChunksA = BlockM * chunksPerRow, stageChunksB = ColumnsOf<TTile>() * chunksPerRow;
        int copiesA = stageChunksA / Threads, copiesB = stageChunksB / Threads;
        // K-outer stages are BlockK rows of the tile's M (or N) columns.
        int wideA = BlockM / 8, wideB = ColumnsOf<TTile>() / 8;
        ArrayView<Chunk16> shared = SharedMemory.GetDynamic<Chunk16>();
        ArrayView<Chunk16> sa = shared.SubView(0, Stages * stageChunksA);
        ArrayView<Chunk16> sb = shared.SubView(Stages * stageChunksA, Stages * stageChunksB);
        ArrayView<ushort> sa16 = sa.Cast<ushort>();
        ArrayView<ushort> sb16 = sb.Cast<ushort>();
        int rowA = Grid.IdxY * BlockM, rowB = Grid.IdxX * ColumnsOf<TTile>();
        int chunksPerGlobalRow = k / 8;
        int kTiles = k / TTile.BlockK;
        // How far one K tile moves an operand's global chunk index: along the row, or down BlockK rows.
        int kStepA = TA.KInner ? chunksPerRow : TTile.BlockK * (m / 8);
        int kStepB = TB.KInner ? chunksPerRow : TTile.BlockK * (n / 8);
        int t = Group.IdxX, lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 8 * TTile.WarpTilesN;

        // Everything about a lane's addresses that does not change with K, computed once: where each of
        // its copies lands in a stage and where it reads in the first K tile, and the row and swizzle key
        // of each ldmatrix. Inside the loop an address is then an add (the stage, the K tile) and an XOR
        // with the step's constant chunk.
        Offsets sharedA = default, globalA = default, sharedB = default, globalB = default, rowsA = default, keysA = default, rowsB = default, keysB = default;
        for (int i = 0; i < 8; i++)
        {
            int q = t + i * Threads;
            if (i < copiesA)
            {
                if (TA.KInner)
                {
                    int row = q >> ChunkShift<TTile>(), chunk = q & (chunksPerRow - 1);
                    sharedA[i] = Swizzled<TTile>(row, chunk);
                    globalA[i] = (rowA + row) * chunksPerGlobalRow + chunk;
                }
                else
                {
                    int row = q / wideA, chunk = q % wideA;
                    sharedA[i] = SwizzledWide(row, chunk, wideA);
                    globalA[i] = row * (m / 8) + rowA / 8 + chunk;
                }
            }
            if (i < copiesB)
            {
                if (TB.KInner)
                {
                    int row = q >> ChunkShift<TTile>(), chunk = q & (chunksPerRow - 1);
                    sharedB[i] = Swizzled<TTile>(row, chunk);
                    globalB[i] = (rowB + row) * chunksPerGlobalRow + chunk;
                }
                else
                {
                    int row = q / wideB, chunk = q % wideB;
                    sharedB[i] = SwizzledWide(row, chunk, wideB);
                    globalB[i] = row * (n / 8) + rowB / 8 + chunk;
                }
            }
        }
        for (int i = 0; i < 4; i++)
        {
            if (TA.KInner)
            {
                // Lanes 0-15 name rows 0-15 at a step's first chunk, lanes 16-31 at its second.
                int row = warpRow + i * 16 + (lane & 15);
                rowsA[i] = row << ChunkShift<TTile>();
                keysA[i] = Swizzled<TTile>(row, lane >> 4) - rowsA[i];
            }
            else
            {
                // Transposed loads of K rows: lanes 0-7 and 16-23 name K rows 0-7 and 8-15 at the
                // fragment's first 8 rows of M, lanes 8-15 and 24-31 at its next 8 (the A register order).
                int kRow = (lane & 7) + ((lane >> 4) << 3);
                rowsA[i] = SwizzledWide(kRow, (warpRow + i * 16) / 8 + ((lane >> 3) & 1), wideA);
            }
        }
        for (int j = 0; j < TTile.WarpTilesN / 2; j++)
        {
            if (TB.KInner)
            {
                // Four 8x8 matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15);
                // B's rows are n with k contiguous, so the plain (non-transposed) load is the B fragment.
                int row = warpCol + j * 16 + (lane & 7) + ((lane >> 4) << 3);
                rowsB[j] = row << ChunkShift<TTile>();
                keysB[j] = Swizzled<TTile>(row, (lane >> 3) & 1) - rowsB[j];
            }
            else
            {
                // Rows are k with n contiguous: (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15), (k 8-15,
                // n 8-15), each transposed, are the two B fragments' registers in order.
                int kRow = (lane & 7) + (((lane >> 3) & 1) << 3);
                rowsB[j] = SwizzledWide(kRow, (warpCol + j * 16) / 8 + (lane >> 4), wideB);
            }
        }

        for (int s = 0; s < Stages - 1; s++)
        {
            if (s < kTiles)
            {
                for (int i = 0; i < copiesA; i++)
                {
                    AsyncCopy.Copy(ref sa[s * stageChunksA + sharedA[i]], ref a[globalA[i] + s * kStepA]);
                }
                for (int i = 0; i < copiesB; i++)
                {
                    AsyncCopy.Copy(ref sb[s * stageChunksB + sharedB[i]], ref b[globalB[i] + s * kStepB]);
                }
            }
            AsyncCopy.Commit();
        }

        AccumulatorTiles acc = default;
        int readStage = 0, writeStage = Stages - 1;
        for (int kt = 0; kt < kTiles; kt++)
        {
            AsyncCopy.Wait(Stages - 2); // Stage kt has landed (for this thread) ...
            Group.Barrier();            // ... for every thread, and everyone is done with the stage refilled next.
            int next = kt + Stages - 1;
            if (next < kTiles)
            {
                int kOffsetA = next * kStepA, kOffsetB = next * kStepB;
                for (int i = 0; i < copiesA; i++)
                {
                    AsyncCopy.Copy(ref sa[writeStage * stageChunksA + sharedA[i]], ref a[globalA[i] + kOffsetA]);
                }
                for (int i = 0; i < copiesB; i++)
                {
                    AsyncCopy.Copy(ref sb[writeStage * stageChunksB + sharedB[i]], ref b[globalB[i] + kOffsetB]);
                }
            }
            AsyncCopy.Commit();

            int stageA = readStage * stageChunksA, stageB = readStage * stageChunksB;
            for (int kk = 0; kk < TTile.BlockK / 16; kk++)
            {
                FragmentsA fa = default;
                for (int i = 0; i < 4; i++)
                {
                    // The swizzle XORs the chunk with bits of the row; the step's chunk (2kk or 2kk+1) only
                    // moves bits the key's low bit does not touch, so XOR with 2kk is exact. K-outer tiles
                    // move 16 rows a step, which leaves the row's low bits, and so the swizzle, unchanged.
                    fa[i] = TA.KInner
                        ? TensorCore.LoadMatrixX4(ref sa16[(stageA + rowsA[i] + (keysA[i] ^ (kk * 2))) * 8])
                        : TensorCore.LoadMatrixX4Transposed(ref sa16[(stageA + kk * 16 * wideA + rowsA[i]) * 8]);
                }
                FragmentsB fb = default;
                for (int j = 0; j < TTile.WarpTilesN / 2; j++)
                {
                    MmaFragmentA four = TB.KInner
                        ? TensorCore.LoadMatrixX4(ref sb16[(stageB + rowsB[j] + (keysB[j] ^ (kk * 2))) * 8])
                        : TensorCore.LoadMatrixX4Transposed(ref sb16[(stageB + kk * 16 * wideB + rowsB[j]) * 8]);
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
                    for (int j = 0; j < TTile.WarpTilesN; j++)
                    {
                        acc[i * TTile.WarpTilesN + j] = TensorCore.MmaBF16(fa[i], fb[j], acc[i * TTile.WarpTilesN + j]);
                    }
                }
            }
            readStage = readStage == Stages - 1 ? 0 : readStage + 1;
            writeStage = writeStage == Stages - 1 ? 0 : writeStage + 1;
        }
        AsyncCopy.Wait(0);

        // Each lane holds rows lane/4 and lane/4 + 8 of every tile, two adjacent columns: one bf16 pair each.
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < TTile.WarpTilesN; j++)
            {
                int row = rowA + warpRow + i * 16 + (lane >> 2);
                int col = rowB + warpCol + j * 8 + (lane & 3) * 2;
                MmaAccumulator tile = acc[i * TTile.WarpTilesN + j];
                if (TEpilogue.Blends)
                {
                    uint top = d[(row * n + col) >> 1], bottom = d[((row + 8) * n + col) >> 1];
                    tile.C0 = blend.Alpha * tile.C0 + blend.Beta * TensorCore.UnpackBFloat16(top, false);
                    tile.C1 = blend.Alpha * tile.C1 + blend.Beta * TensorCore.UnpackBFloat16(top, true);
                    tile.C2 = blend.Alpha * tile.C2 + blend.Beta * TensorCore.UnpackBFloat16(bottom, false);
                    tile.C3 = blend.Alpha * tile.C3 + blend.Beta * TensorCore.UnpackBFloat16(bottom, true);
                }
                c[(row * n + col) >> 1] = TensorCore.PackBFloat162(tile.C0, tile.C1);
                c[((row + 8) * n + col) >> 1] = TensorCore.PackBFloat162(tile.C2, tile.C3);
            }
        }
    }

    /// <summary>
    /// C = A·Bᵀ: <paramref name="a"/> is [M, K], <paramref name="b"/> is [N, K], <paramref name="c"/> is [M, N],
    /// all bf16 and row-major: a linear layer's forward pass (B is the weight in nn.Linear's layout).
    /// </summary>
    /// <param name="accelerator">Where the views live: a CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="a">The left operand, M×K.</param>
    /// <param name="b">The right operand, N×K (each row one output column's weights).</param>
    /// <param name="c">The result, M×N.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">Columns of A and B.</param>
    public static void Bf16Nt(Accelerator accelerator, ArrayView<BFloat16> a, ArrayView<BFloat16> b, ArrayView<BFloat16> c, int m, int n, int k) =>
        Bf16(accelerator, a, false, b, true, c, m, n, k);

    /// <summary>C = A·B: <paramref name="a"/> is [M, K], <paramref name="b"/> is [K, N] (a linear layer's input gradient: dX = dY·W).</summary>
    /// <param name="accelerator">Where the views live: a CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="a">The left operand, M×K.</param>
    /// <param name="b">The right operand, K×N.</param>
    /// <param name="c">The result, M×N.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Columns of A, rows of B.</param>
    public static void Bf16Nn(Accelerator accelerator, ArrayView<BFloat16> a, ArrayView<BFloat16> b, ArrayView<BFloat16> c, int m, int n, int k) =>
        Bf16(accelerator, a, false, b, false, c, m, n, k);

    /// <summary>C = Aᵀ·B: <paramref name="a"/> is [K, M], <paramref name="b"/> is [K, N] (a linear layer's weight gradient: dW = dYᵀ·X).</summary>
    /// <param name="accelerator">Where the views live: a CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="a">The left operand stored K×M.</param>
    /// <param name="b">The right operand, K×N.</param>
    /// <param name="c">The result, M×N.</param>
    /// <param name="m">Columns of A, rows of C.</param>
    /// <param name="n">Columns of B and C.</param>
    /// <param name="k">Rows of A and B.</param>
    public static void Bf16Tn(Accelerator accelerator, ArrayView<BFloat16> a, ArrayView<BFloat16> b, ArrayView<BFloat16> c, int m, int n, int k) =>
        Bf16(accelerator, a, true, b, false, c, m, n, k);

    /// <summary>
    /// C = op(A)·op(B) in bf16 with fp32 accumulation and one rounding, every transpose case: A is [M, K],
    /// or stored [K, M] when <paramref name="aTransposed"/>; B is [K, N], or stored [N, K] when
    /// <paramref name="bTransposed"/>; C is [M, N]; all row-major. M and N must be multiples of 128 and K
    /// of 32 (the tile; smaller or ragged shapes are not supported yet). A transposed operand is read
    /// through ldmatrix.trans from the same swizzled pipeline, so no copy is made.
    /// </summary>
    /// <param name="accelerator">Where the views live: a CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="a">The left operand.</param>
    /// <param name="aTransposed">A is stored [K, M].</param>
    /// <param name="b">The right operand.</param>
    /// <param name="bTransposed">B is stored [N, K].</param>
    /// <param name="c">The result, M×N.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The reduction length.</param>
    public static void Bf16(Accelerator accelerator, ArrayView<BFloat16> a, bool aTransposed, ArrayView<BFloat16> b, bool bTransposed, ArrayView<BFloat16> c, int m, int n, int k) =>
        Run<PlainEpilogue>(accelerator, a, aTransposed, b, bTransposed, c, m, n, k, default, default);

    /// <summary>
    /// C = α·op(A)·op(B) + β·D with the blend done in fp32 before the one rounding to bf16 (a fused
    /// epilogue: Newton–Schulz's polynomial steps, residual adds). <paramref name="d"/> is [M, N] and may be
    /// <paramref name="c"/> itself. Layouts and limits as <see cref="Bf16(Accelerator, ArrayView{BFloat16}, bool, ArrayView{BFloat16}, bool, ArrayView{BFloat16}, int, int, int)"/>.
    /// </summary>
    /// <param name="accelerator">Where the views live: a CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="a">The left operand.</param>
    /// <param name="aTransposed">A is stored [K, M].</param>
    /// <param name="b">The right operand.</param>
    /// <param name="bTransposed">B is stored [N, K].</param>
    /// <param name="c">The result, M×N.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The reduction length.</param>
    /// <param name="alpha">The product's weight.</param>
    /// <param name="d">The matrix blended in, M×N.</param>
    /// <param name="beta">D's weight.</param>
    public static void Bf16(Accelerator accelerator, ArrayView<BFloat16> a, bool aTransposed, ArrayView<BFloat16> b, bool bTransposed, ArrayView<BFloat16> c, int m, int n, int k,
        float alpha, ArrayView<BFloat16> d, float beta)
    {
        Require(d, (long)m * n, "d", $"[M={m}, N={n}]");
        Run<BlendEpilogue>(accelerator, a, aTransposed, b, bTransposed, c, m, n, k, d, new GemmBlend { Alpha = alpha, Beta = beta });
    }

    private static void Run<TEpilogue>(Accelerator accelerator, ArrayView<BFloat16> a, bool aTransposed, ArrayView<BFloat16> b, bool bTransposed, ArrayView<BFloat16> c, int m, int n, int k,
        ArrayView<BFloat16> d, GemmBlend blend)
        where TEpilogue : struct, IGemmEpilogue
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (m <= 0 || n <= 0 || k <= 0 || m % BlockM != 0 || n % BlockN != 0 || k % BlockK != 0)
        {
            throw new ArgumentException(
                $"GEMM shape M={m}, N={n}, K={k}: the tensor-core kernel needs M and N to be positive multiples of {BlockM} and K of {BlockK}. Pad the operands, or use the CPU backend's GEMM for ragged shapes.");
        }
        Require(a, (long)m * k, "a", aTransposed ? $"[K={k}, M={m}]" : $"[M={m}, K={k}]");
        Require(b, (long)n * k, "b", bTransposed ? $"[N={n}, K={k}]" : $"[K={k}, N={n}]");
        Require(c, (long)m * n, "c", $"[M={m}, N={n}]");
        if (accelerator.WarpSize != 32)
        {
            throw new ArgumentException($"The tensor-core GEMM needs warps of 32 lanes; {accelerator.Name} has {accelerator.WarpSize}.", nameof(accelerator));
        }
        var call = new GemmCall(accelerator, a, b, c, d, m, n, k, blend, Force ?? (k % 64 != 0 ? 32 : n % 256 == 0 ? 256 : 64));
        switch (aTransposed, bTransposed)
        {
            case (false, true): Dispatch<KInner, KInner, TEpilogue>(call); break;
            case (false, false): Dispatch<KInner, KOuter, TEpilogue>(call); break;
            case (true, false): Dispatch<KOuter, KOuter, TEpilogue>(call); break;
            default: Dispatch<KOuter, KInner, TEpilogue>(call); break;
        }
    }

    /// <summary>One product's operands and sizes, on their way to the kernel instantiation that fits them.</summary>
    private readonly record struct GemmCall(Accelerator Accelerator, ArrayView<BFloat16> A, ArrayView<BFloat16> B, ArrayView<BFloat16> C, ArrayView<BFloat16> D,
        int M, int N, int K, GemmBlend Blend, int Tile);

    private static void Dispatch<TA, TB, TEpilogue>(GemmCall call)
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
        where TEpilogue : struct, IGemmEpilogue
    {
        switch (call.Tile)
        {
            case 256: Launch<Tile128x256x64, TA, TB, TEpilogue>(call); break;
            case 64: Launch<Tile128x128x64, TA, TB, TEpilogue>(call); break;
            default: Launch<Tile128x128x32, TA, TB, TEpilogue>(call); break;
        }
    }

    /// <summary>
    /// Benchmarks and tests pin a tile here: 32 (128x128x32), 64 (128x128x64) or 256 (128x256x64); null
    /// lets the shape choose (the widest the shape's multiples allow).
    /// </summary>
    internal static int? Force { get; set; }

    private static void Launch<TTile, TA, TB, TEpilogue>(GemmCall call)
        where TTile : struct, IGemmTile
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
        where TEpilogue : struct, IGemmEpilogue
    {
        var config = new KernelConfig(new Index3D(call.N / ColumnsOf<TTile>(), call.M / BlockM), new Index3D(Threads), SharedBytes<TTile>());
        call.Accelerator.LoadKernel<ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<uint>, ArrayView<uint>, int, int, int, GemmBlend>(Bf16Kernel<TTile, TA, TB, TEpilogue>)(
            config, call.A.Cast<Chunk16>(), call.B.Cast<Chunk16>(), call.C.Cast<uint>(), call.D.Cast<uint>(), call.M, call.N, call.K, call.Blend);
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
