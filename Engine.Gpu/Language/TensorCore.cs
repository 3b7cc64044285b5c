namespace Engine.Gpu;

/// <summary>
/// The A operand of an m16n8k16 matrix multiply, as one lane holds it: eight 16-bit values (f16 or bf16)
/// packed two per register, the lower-numbered element in the low half. Element i of the lane sits at
/// row <see cref="TensorCore.RowA"/>, column <see cref="TensorCore.ColA"/> of the 16 x 16 matrix.
/// </summary>
public struct MmaFragmentA
{
    /// <summary>Elements 0 and 1.</summary>
    public uint R0;
    /// <summary>Elements 2 and 3.</summary>
    public uint R1;
    /// <summary>Elements 4 and 5.</summary>
    public uint R2;
    /// <summary>Elements 6 and 7.</summary>
    public uint R3;
}

/// <summary>
/// The B operand of an m16n8k16 matrix multiply, as one lane holds it: four 16-bit values, element i at
/// row (k) <see cref="TensorCore.RowB"/>, column (n) <see cref="TensorCore.ColB"/> of the 16 x 8 matrix.
/// </summary>
public struct MmaFragmentB
{
    /// <summary>Elements 0 and 1.</summary>
    public uint R0;
    /// <summary>Elements 2 and 3.</summary>
    public uint R1;
}

/// <summary>
/// The C and D operands of an m16n8k16 matrix multiply, as one lane holds them: four floats, element i
/// at row <see cref="TensorCore.RowC"/>, column <see cref="TensorCore.ColC"/> of the 16 x 8 matrix.
/// </summary>
public struct MmaAccumulator
{
    /// <summary>Element 0.</summary>
    public float C0;
    /// <summary>Element 1.</summary>
    public float C1;
    /// <summary>Element 2.</summary>
    public float C2;
    /// <summary>Element 3.</summary>
    public float C3;
}

/// <summary>
/// Tensor cores: the warp-wide matrix multiply-accumulate of PTX <c>mma.sync.aligned.m16n8k16.row.col</c>
/// (sm_80+), with the fragment layouts of the PTX ISA. Every lane of a 32-lane warp must call it.
/// </summary>
/// <remarks>
/// CPU meaning: each element of D is the exact sum, in k order, of the exact products and C, computed in
/// double and rounded once to float. The GPU's tensor cores add in float with their own order and
/// rounding, so results may differ in the last bits; treat them as "approximate" like FastMath.
/// </remarks>
public static class TensorCore
{
    /// <summary>The row in A (0..15) of element <paramref name="i"/> (0..7) of lane <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane (0..31).</param>
    /// <param name="i">The element of the fragment.</param>
    public static int RowA(int lane, int i) => (lane >> 2) + ((i >> 1) & 1) * 8;

    /// <summary>The column in A (0..15) of element <paramref name="i"/> of lane <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane (0..31).</param>
    /// <param name="i">The element of the fragment (0..7).</param>
    public static int ColA(int lane, int i) => (lane & 3) * 2 + (i & 1) + (i >> 2) * 8;

    /// <summary>The row (k, 0..15) in B of element <paramref name="i"/> (0..3) of lane <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane (0..31).</param>
    /// <param name="i">The element of the fragment.</param>
    public static int RowB(int lane, int i) => (lane & 3) * 2 + (i & 1) + (i >> 1) * 8;

    /// <summary>The column (n, 0..7) in B of lane <paramref name="lane"/>'s elements.</summary>
    /// <param name="lane">The lane (0..31).</param>
    /// <param name="i">The element of the fragment (0..3).</param>
    public static int ColB(int lane, int i) => lane >> 2;

    /// <summary>The row (0..15) in C and D of element <paramref name="i"/> (0..3) of lane <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane (0..31).</param>
    /// <param name="i">The element of the fragment.</param>
    public static int RowC(int lane, int i) => (lane >> 2) + (i >> 1) * 8;

    /// <summary>The column (0..7) in C and D of element <paramref name="i"/> of lane <paramref name="lane"/>.</summary>
    /// <param name="lane">The lane (0..31).</param>
    /// <param name="i">The element of the fragment (0..3).</param>
    public static int ColC(int lane, int i) => (lane & 3) * 2 + (i & 1);

    /// <summary>D = A * B + C with f16 A and B (PTX <c>mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32</c>).</summary>
    /// <param name="a">This lane's part of A.</param>
    /// <param name="b">This lane's part of B.</param>
    /// <param name="c">This lane's part of C.</param>
    [Intrinsic(IntrinsicKind.MmaF16)]
    public static MmaAccumulator MmaF16(MmaFragmentA a, MmaFragmentB b, MmaAccumulator c) => MmaCpu(IntrinsicKind.MmaF16, a, b, c);

    /// <summary>D = A * B + C with bf16 A and B (PTX <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c>).</summary>
    /// <param name="a">This lane's part of A.</param>
    /// <param name="b">This lane's part of B.</param>
    /// <param name="c">This lane's part of C.</param>
    [Intrinsic(IntrinsicKind.MmaBF16)]
    public static MmaAccumulator MmaBF16(MmaFragmentA a, MmaFragmentB b, MmaAccumulator c) => MmaCpu(IntrinsicKind.MmaBF16, a, b, c);

    /// <summary>
    /// ldmatrix .x1: lanes 0..7 each give the address of one row (eight 16-bit values, 16 bytes) of an 8x8
    /// matrix in shared memory; every lane receives the pair at row LaneIdx / 4, columns 2 * (LaneIdx % 4)
    /// and the next. All 32 lanes must call it (the addresses of lanes 8..31 are ignored).
    /// </summary>
    /// <param name="row">This lane's row: an element of a shared-memory view.</param>
    [Intrinsic(IntrinsicKind.LoadMatrixX1)]
    public static uint LoadMatrixX1(ref ushort row) => LoadMatrixCpu(ref row, 1, false)[0];

    /// <summary>ldmatrix .x2: two matrices, rows from lanes 0..7 and 8..15, one register each.</summary>
    /// <param name="row">This lane's row: an element of a shared-memory view.</param>
    [Intrinsic(IntrinsicKind.LoadMatrixX2)]
    public static MmaFragmentB LoadMatrixX2(ref ushort row)
    {
        uint[] r = LoadMatrixCpu(ref row, 2, false);
        return new MmaFragmentB { R0 = r[0], R1 = r[1] };
    }

    /// <summary>
    /// ldmatrix .x4: four matrices, rows from lanes 0..7, 8..15, 16..23, 24..31. Lanes 0..15 pointing at
    /// rows 0..15 of a 16x16 row-major tile at column 0, and lanes 16..31 at column 8, load an
    /// <see cref="MmaFragmentA"/>.
    /// </summary>
    /// <param name="row">This lane's row: an element of a shared-memory view.</param>
    [Intrinsic(IntrinsicKind.LoadMatrixX4)]
    public static MmaFragmentA LoadMatrixX4(ref ushort row)
    {
        uint[] r = LoadMatrixCpu(ref row, 4, false);
        return new MmaFragmentA { R0 = r[0], R1 = r[1], R2 = r[2], R3 = r[3] };
    }

    /// <summary>ldmatrix .x1.trans: as <see cref="LoadMatrixX1"/>, of the transposed matrix.</summary>
    /// <param name="row">This lane's row: an element of a shared-memory view.</param>
    [Intrinsic(IntrinsicKind.LoadMatrixX1Transposed)]
    public static uint LoadMatrixX1Transposed(ref ushort row) => LoadMatrixCpu(ref row, 1, true)[0];

    /// <summary>ldmatrix .x2.trans: as <see cref="LoadMatrixX2"/>, of the transposed matrices (a B fragment from a row-major k x n tile).</summary>
    /// <param name="row">This lane's row: an element of a shared-memory view.</param>
    [Intrinsic(IntrinsicKind.LoadMatrixX2Transposed)]
    public static MmaFragmentB LoadMatrixX2Transposed(ref ushort row)
    {
        uint[] r = LoadMatrixCpu(ref row, 2, true);
        return new MmaFragmentB { R0 = r[0], R1 = r[1] };
    }

    /// <summary>ldmatrix .x4.trans: as <see cref="LoadMatrixX4"/>, of the transposed matrices.</summary>
    /// <param name="row">This lane's row: an element of a shared-memory view.</param>
    [Intrinsic(IntrinsicKind.LoadMatrixX4Transposed)]
    public static MmaFragmentA LoadMatrixX4Transposed(ref ushort row)
    {
        uint[] r = LoadMatrixCpu(ref row, 4, true);
        return new MmaFragmentA { R0 = r[0], R1 = r[1], R2 = r[2], R3 = r[3] };
    }

    private static unsafe uint[] LoadMatrixCpu(ref ushort row, int count, bool transpose)
    {
        KernelContext context = KernelContext.Get("TensorCore.LoadMatrix");
        nint[] rows = context.WarpGather((nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref row));
        TensorCoreSemantics.RequireFullWarp(rows.Length);
        var result = new uint[count];
        for (int j = 0; j < count; j++)
        {
            result[j] = TensorCoreSemantics.LoadMatrixRegister(rows, j, context.LaneIdx, transpose);
        }
        return result;
    }

    /// <summary>Rounds two floats to f16 (to nearest even) and packs them, <paramref name="low"/> in bits 0..15; a NaN becomes the canonical 0x7FFF, as on the GPU.</summary>
    /// <param name="low">The first element.</param>
    /// <param name="high">The second element.</param>
    [Intrinsic(IntrinsicKind.PackHalf2)]
    public static uint PackHalf2(float low, float high) => TensorCoreSemantics.PackHalf2(low, high);

    /// <summary>Rounds two floats to bf16 (to nearest even) and packs them, <paramref name="low"/> in bits 0..15.</summary>
    /// <param name="low">The first element.</param>
    /// <param name="high">The second element.</param>
    [Intrinsic(IntrinsicKind.PackBFloat162)]
    public static uint PackBFloat162(float low, float high) => TensorCoreSemantics.PackBFloat162(low, high);

    /// <summary>The f16 value in bits 0..15 (<paramref name="high"/> false) or 16..31 of a pair, as a float.</summary>
    /// <param name="pair">A packed pair.</param>
    /// <param name="high">Which half.</param>
    public static float UnpackHalf(uint pair, bool high) => (float)BitConverter.UInt16BitsToHalf((ushort)(high ? pair >> 16 : pair));

    /// <summary>The bf16 value in bits 0..15 (<paramref name="high"/> false) or 16..31 of a pair, as a float.</summary>
    /// <param name="pair">A packed pair.</param>
    /// <param name="high">Which half.</param>
    public static float UnpackBFloat16(uint pair, bool high) => BitConverter.Int32BitsToSingle((int)(high ? pair & 0xFFFF0000u : pair << 16));

    private static MmaAccumulator MmaCpu(IntrinsicKind kind, MmaFragmentA a, MmaFragmentB b, MmaAccumulator c)
    {
        KernelContext context = KernelContext.Get("TensorCore." + kind);
        TensorCoreSemantics.RequireFullWarp(context.WarpSize);
        var all = context.WarpGather((a, b, c));
        TensorCoreSemantics.RequireFullWarp(all.Length);
        Span<uint> fa = stackalloc uint[32 * 4];
        Span<uint> fb = stackalloc uint[32 * 2];
        Span<float> fc = stackalloc float[32 * 4];
        for (int lane = 0; lane < 32; lane++)
        {
            var (la, lb, lc) = all[lane];
            fa[4 * lane] = la.R0;
            fa[4 * lane + 1] = la.R1;
            fa[4 * lane + 2] = la.R2;
            fa[4 * lane + 3] = la.R3;
            fb[2 * lane] = lb.R0;
            fb[2 * lane + 1] = lb.R1;
            fc[4 * lane] = lc.C0;
            fc[4 * lane + 1] = lc.C1;
            fc[4 * lane + 2] = lc.C2;
            fc[4 * lane + 3] = lc.C3;
        }
        Span<float> d = stackalloc float[32 * 4];
        TensorCoreSemantics.Mma(kind == IntrinsicKind.MmaBF16, fa, fb, fc, d);
        int me = context.LaneIdx;
        return new MmaAccumulator { C0 = d[4 * me], C1 = d[4 * me + 1], C2 = d[4 * me + 2], C3 = d[4 * me + 3] };
    }
}

/// <summary>The CPU meaning of the tensor-core operations, shared by the CLR runner and the interpreter.</summary>
internal static class TensorCoreSemantics
{
    public static void RequireFullWarp(int lanes)
    {
        if (lanes != 32)
        {
            throw new KernelExecutionException(
                $"TensorCore.Mma needs a full warp of 32 lanes (its fragment layout is the hardware's); this warp has {lanes}. " +
                "Use warp size 32 and groups whose size is a multiple of 32.");
        }
    }

    private static float Element(uint pair, int half, bool bf16) => bf16
        ? BitConverter.Int32BitsToSingle((int)(half == 0 ? pair << 16 : pair & 0xFFFF0000u))
        : (float)BitConverter.UInt16BitsToHalf((ushort)(half == 0 ? pair : pair >> 16));

    /// <summary>
    /// D for all 32 lanes from every lane's fragments: <paramref name="a"/> 4 registers per lane,
    /// <paramref name="b"/> 2, <paramref name="c"/> and <paramref name="d"/> 4 floats.
    /// </summary>
    public static void Mma(bool bf16, ReadOnlySpan<uint> a, ReadOnlySpan<uint> b, ReadOnlySpan<float> c, Span<float> d)
    {
        Span<double> matA = stackalloc double[16 * 16];
        Span<double> matB = stackalloc double[16 * 8];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 8; i++)
            {
                matA[TensorCore.RowA(lane, i) * 16 + TensorCore.ColA(lane, i)] = Element(a[4 * lane + i / 2], i & 1, bf16);
            }
            for (int i = 0; i < 4; i++)
            {
                matB[TensorCore.RowB(lane, i) * 8 + TensorCore.ColB(lane, i)] = Element(b[2 * lane + i / 2], i & 1, bf16);
            }
        }
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                int row = TensorCore.RowC(lane, i), col = TensorCore.ColC(lane, i);
                double sum = c[4 * lane + i];
                for (int k = 0; k < 16; k++)
                {
                    sum += matA[row * 16 + k] * matB[k * 8 + col];
                }
                d[4 * lane + i] = (float)sum;
            }
        }
    }

    /// <summary>
    /// Register <paramref name="matrix"/> of ldmatrix for <paramref name="lane"/>: the pair at row lane / 4,
    /// columns 2 * (lane % 4) and the next (of the transposed matrix when <paramref name="transpose"/>).
    /// </summary>
    public static unsafe uint LoadMatrixRegister(ReadOnlySpan<nint> rows, int matrix, int lane, bool transpose)
    {
        int r = lane >> 2, c = (lane & 3) * 2;
        if (!transpose)
        {
            return *(uint*)(rows[matrix * 8 + r] + c * 2);
        }
        ushort low = *(ushort*)(rows[matrix * 8 + c] + r * 2);
        ushort high = *(ushort*)(rows[matrix * 8 + c + 1] + r * 2);
        return low | ((uint)high << 16);
    }

    public static uint PackHalf2(float low, float high) => ToHalf(low) | ((uint)ToHalf(high) << 16);

    /// <summary>cvt.rn.f16x2.f32 as an H100 does it: round to nearest even, and any NaN becomes the canonical 0x7FFF
    /// (the CLR's (Half) cast keeps the sign and payload instead; seen on the GPU, docs/gpu/).</summary>
    private static ushort ToHalf(float x) => float.IsNaN(x) ? (ushort)0x7FFF : BitConverter.HalfToUInt16Bits((Half)x);

    public static uint PackBFloat162(float low, float high) => ToBFloat16(low) | ((uint)ToBFloat16(high) << 16);

    /// <summary>Round to nearest even; NaN becomes the canonical 0x7FFF, as cvt.rn.bf16.f32 does.</summary>
    public static ushort ToBFloat16(float x)
    {
        if (float.IsNaN(x))
        {
            return 0x7FFF;
        }
        uint bits = BitConverter.SingleToUInt32Bits(x);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
