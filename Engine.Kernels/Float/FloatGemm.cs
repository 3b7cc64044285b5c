using Engine.Gpu;

namespace Engine.Kernels;

/// <summary>
/// Where the matrices of one GEMM operand lie in its buffer, for batch index z in [0, batch):
/// base(z) = Offset + (z / InnerCount) * OuterStride + ((z % InnerCount) / InnerDivisor) * InnerStride,
/// and element (r, c) of the matrix AS STORED (before any transpose) is at base(z) + r * Ld + c.
/// </summary>
/// <remarks>
/// A plain batch of matrices one after another: <c>new(0, ld, OuterStride: rows * ld)</c>. One matrix
/// shared by every batch entry: OuterStride 0. Attention's (B, T, H, D) tensors with z = b·H + h:
/// <c>new(0, H * D, T * H * D, H, D)</c> for the queries, and for keys with Hkv heads (GQA, each shared
/// by H / Hkv query heads) <c>new(0, Hkv * D, T * Hkv * D, H, D, H / Hkv)</c>.
/// </remarks>
/// <param name="Offset">Elements before the first matrix; not negative.</param>
/// <param name="Ld">Elements between the starts of consecutive stored rows; at least the stored row length.</param>
/// <param name="OuterStride">Elements between consecutive outer batch indices (z / InnerCount); not negative.</param>
/// <param name="InnerCount">How many batch indices share one outer index; at least 1.</param>
/// <param name="InnerStride">Elements between consecutive inner indices ((z % InnerCount) / InnerDivisor); not negative.</param>
/// <param name="InnerDivisor">How many consecutive inner indices share one matrix (GQA's group size); at least 1.</param>
public readonly record struct GemmOperand(int Offset, int Ld, int OuterStride = 0, int InnerCount = 1, int InnerStride = 0, int InnerDivisor = 1);

/// <summary>An operand's placement as the kernel receives it (a plain struct of ints).</summary>
internal struct OperandPlacement
{
    public int Offset, Ld, OuterStride, InnerCount, InnerStride, InnerDivisor;
}

/// <summary>The GEMM's sizes and scalars as the kernel receives them.</summary>
internal struct FloatGemmShape
{
    public int Batch, M, N, K;
    public float Alpha, Beta;
}

/// <summary>One thread's share of a GEMM slab: its first element's row and depth in the slab, that element's index in the operand's buffer (at depth 0), and the index step between its four elements.</summary>
internal struct SlabThread
{
    public int Row, Depth, Global, Step;
}

/// <summary>Four floats in registers: one row of a thread's 4x4 block, or four staged loads.</summary>
internal struct Float4x1
{
    public float X, Y, Z, W;
}

/// <summary>
/// The fp32 matrix product on CUDA cores (no tensor cores), batched and strided:
/// c[z] = α·op(a[z])·op(b[z]) + β·c[z], every transpose case, any sizes.
/// </summary>
/// <remarks>
/// One group of 256 threads computes a 64x64 block of one c[z]. K advances 16 at a time: each thread
/// fetches four values of A's and four of B's next 16-deep slab into registers while the group works
/// on the current one from shared memory, where both slabs lie K-major (row kk holds the 64 values of
/// op(A)'s column kk, or of op(B)'s row kk), so the inner loop reads shared memory contiguously
/// whatever the transposes. A transpose only changes which of the slab's two indices the 256 threads
/// walk fastest when they read global memory (the stored row, for coalescing). Each thread keeps a 4x4
/// block of c in scalar registers: rows ty + 16·i and columns tx + 16·j (tx = thread % 16,
/// ty = thread / 16), so a warp's shared-memory reads fall in distinct banks or broadcast, and its
/// stores of c cover 16 consecutive columns. Blocks past the edges of m, n and k load zeros and store
/// nothing.
/// </remarks>
public static class FloatGemm
{
    /// <summary>Rows of c per group.</summary>
    internal const int BlockM = 64;

    /// <summary>Columns of c per group.</summary>
    internal const int BlockN = 64;

    /// <summary>Depth of one shared-memory slab.</summary>
    internal const int BlockK = 16;

    /// <summary>Threads per group.</summary>
    internal const int GroupSize = 256;

    /// <summary>Floats between consecutive kk rows of a shared slab: 64 plus 4 of padding, so the K-inner stores spread over the banks.</summary>
    private const int SharedStride = 68;

    /// <summary>The CUDA limit on a grid's y and z extents; larger row-block and batch counts loop inside the kernel.</summary>
    private const int MaxGridYZ = KernelConfig.MaxGridYZ;

    private static int Base(OperandPlacement p, int z) =>
        p.Offset + (z / p.InnerCount) * p.OuterStride + ((z % p.InnerCount) / p.InnerDivisor) * p.InnerStride;

    /// <summary>
    /// Where this thread's four elements of a 64 x 16 slab of an operand lie, the operand seen as R x K (R
    /// being m for A and n for B). Thread t's element l (of four) is (Row + 16·l, Depth) when K is the
    /// stored row (kk fastest: t % 16) and (Row, Depth + 4·l) otherwise (r fastest: t % 64), so
    /// consecutive threads read consecutive addresses either way.
    /// </summary>
    private static SlabThread Place<TLayout>(int t, int baseIndex, int ld, int r0)
        where TLayout : struct, IOperandLayout
    {
        SlabThread p;
        p.Row = TLayout.KInner ? t / BlockK : t % BlockM;
        p.Depth = TLayout.KInner ? t % BlockK : t / BlockM;
        p.Global = TLayout.KInner ? baseIndex + (r0 + p.Row) * ld + p.Depth : baseIndex + p.Depth * ld + r0 + p.Row;
        p.Step = TLayout.KInner ? 16 * ld : 4 * ld;
        return p;
    }

    /// <summary>Element l of this thread's share of the slab at depth k0, zero past the edges (rowsLeft: R minus the slab's first row; depth: K).</summary>
    private static float LoadOne<TLayout>(ArrayView<float> x, SlabThread p, int l, int rowsLeft, int k0, int depth, int ld)
        where TLayout : struct, IOperandLayout
    {
        int r = TLayout.KInner ? p.Row + 16 * l : p.Row;
        int kk = TLayout.KInner ? p.Depth : p.Depth + 4 * l;
        float v = 0f;
        if (r < rowsLeft && k0 + kk < depth)
        {
            v = x[p.Global + l * p.Step + (TLayout.KInner ? k0 : k0 * ld)];
        }
        return v;
    }

    private static Float4x1 LoadSlab<TLayout>(ArrayView<float> x, SlabThread p, int rowsLeft, int k0, int depth, int ld)
        where TLayout : struct, IOperandLayout
    {
        Float4x1 q;
        q.X = LoadOne<TLayout>(x, p, 0, rowsLeft, k0, depth, ld);
        q.Y = LoadOne<TLayout>(x, p, 1, rowsLeft, k0, depth, ld);
        q.Z = LoadOne<TLayout>(x, p, 2, rowsLeft, k0, depth, ld);
        q.W = LoadOne<TLayout>(x, p, 3, rowsLeft, k0, depth, ld);
        return q;
    }

    /// <summary>Stores this thread's four slab values at kk·68 + r: mine is the shared slab from this thread's element 0 on, so the offsets are constants.</summary>
    private static void StoreSlab<TLayout>(ArrayView<float> mine, Float4x1 q)
        where TLayout : struct, IOperandLayout
    {
        int step = TLayout.KInner ? 16 : 4 * SharedStride;
        mine[0] = q.X;
        mine[step] = q.Y;
        mine[2 * step] = q.Z;
        mine[3 * step] = q.W;
    }

    /// <summary>The start of this thread's share of a shared slab: its element 0 (kk·68 + r) onwards.</summary>
    private static ArrayView<float> Mine<TLayout>(ArrayView<float> shared, int t)
        where TLayout : struct, IOperandLayout
    {
        int at = TLayout.KInner ? (t % BlockK) * SharedStride + t / BlockK : (t / BlockM) * SharedStride + t % BlockM;
        return shared.SubView(at, shared.Length - at);
    }

    /// <summary>Four values 16 apart at depth kk (a constant once the loop is unrolled): a thread's four rows (or columns) of the slab.</summary>
    private static Float4x1 Gather(ArrayView<float> mine, int kk)
    {
        Float4x1 q;
        q.X = mine[kk * SharedStride];
        q.Y = mine[kk * SharedStride + 16];
        q.Z = mine[kk * SharedStride + 32];
        q.W = mine[kk * SharedStride + 48];
        return q;
    }

    /// <summary>acc + a·b, elementwise with one fused multiply-add each.</summary>
    private static Float4x1 Fma4(float a, Float4x1 b, Float4x1 acc)
    {
        acc.X = FastMath.Fma(a, b.X, acc.X);
        acc.Y = FastMath.Fma(a, b.Y, acc.Y);
        acc.Z = FastMath.Fma(a, b.Z, acc.Z);
        acc.W = FastMath.Fma(a, b.W, acc.W);
        return acc;
    }

    private static void StoreOut(ArrayView<float> c, int index, float acc, FloatGemmShape s)
    {
        float v = s.Alpha * acc;
        if (s.Beta != 0f)
        {
            v += s.Beta * c[index];
        }
        c[index] = v;
    }

    /// <summary>One row of a thread's block: columns col, col + 16, col + 32, col + 48, those inside n.</summary>
    private static void StoreRow(ArrayView<float> c, int rowStart, int col, Float4x1 acc, FloatGemmShape s)
    {
        if (col < s.N)
        {
            StoreOut(c, rowStart + col, acc.X, s);
        }
        if (col + 16 < s.N)
        {
            StoreOut(c, rowStart + col + 16, acc.Y, s);
        }
        if (col + 32 < s.N)
        {
            StoreOut(c, rowStart + col + 32, acc.Z, s);
        }
        if (col + 48 < s.N)
        {
            StoreOut(c, rowStart + col + 48, acc.W, s);
        }
    }

    /// <summary>
    /// TA: KInner when A is stored m x k (not transposed), KOuter when stored k x m. TB: KInner when B is
    /// stored n x k (transposed), KOuter when stored k x n.
    /// </summary>
    [Kernel]
    internal static void FloatGemmKernel<TA, TB>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, FloatGemmShape s,
        OperandPlacement pa, OperandPlacement pb, OperandPlacement pc)
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout
    {
        ArrayView<float> sa = SharedMemory.Allocate<float>(BlockK * SharedStride);
        ArrayView<float> sb = SharedMemory.Allocate<float>(BlockK * SharedStride);
        int t = Group.IdxX;
        int tx = t % 16, ty = t / 16;
        int n0 = Grid.IdxX * BlockN;
        // This thread's views of the slabs: where its staged values go, and the rows (columns) it reads.
        ArrayView<float> storeA = Mine<TA>(sa, t), storeB = Mine<TB>(sb, t);
        ArrayView<float> readA = sa.SubView(ty, sa.Length - ty), readB = sb.SubView(tx, sb.Length - tx);
        for (int z = Grid.IdxZ; z < s.Batch; z += Grid.DimZ)
        {
            int baseA = Base(pa, z), baseB = Base(pb, z), baseC = Base(pc, z);
            for (int m0 = Grid.IdxY * BlockM; m0 < s.M; m0 += Grid.DimY * BlockM)
            {
                SlabThread la = Place<TA>(t, baseA, pa.Ld, m0), lb = Place<TB>(t, baseB, pb.Ld, n0);
                Float4x1 c0 = default, c1 = default, c2 = default, c3 = default;
                Float4x1 ra = LoadSlab<TA>(a, la, s.M - m0, 0, s.K, pa.Ld);
                Float4x1 rb = LoadSlab<TB>(b, lb, s.N - n0, 0, s.K, pb.Ld);
                for (int k0 = 0; k0 < s.K; k0 += BlockK)
                {
                    StoreSlab<TA>(storeA, ra);
                    StoreSlab<TB>(storeB, rb);
                    Group.Barrier();
                    if (k0 + BlockK < s.K)
                    {
                        // The next slab's loads are in flight while this one is multiplied.
                        ra = LoadSlab<TA>(a, la, s.M - m0, k0 + BlockK, s.K, pa.Ld);
                        rb = LoadSlab<TB>(b, lb, s.N - n0, k0 + BlockK, s.K, pb.Ld);
                    }
                    for (int kk = 0; kk < BlockK; kk++)
                    {
                        Float4x1 av = Gather(readA, kk);
                        Float4x1 bv = Gather(readB, kk);
                        c0 = Fma4(av.X, bv, c0);
                        c1 = Fma4(av.Y, bv, c1);
                        c2 = Fma4(av.Z, bv, c2);
                        c3 = Fma4(av.W, bv, c3);
                    }
                    Group.Barrier(); // Everyone is done with this slab before the next overwrites it.
                }
                int row = m0 + ty, col = n0 + tx;
                if (row < s.M)
                {
                    StoreRow(c, baseC + row * pc.Ld, col, c0, s);
                }
                if (row + 16 < s.M)
                {
                    StoreRow(c, baseC + (row + 16) * pc.Ld, col, c1, s);
                }
                if (row + 32 < s.M)
                {
                    StoreRow(c, baseC + (row + 32) * pc.Ld, col, c2, s);
                }
                if (row + 48 < s.M)
                {
                    StoreRow(c, baseC + (row + 48) * pc.Ld, col, c3, s);
                }
            }
        }
    }

    /// <summary>
    /// c[z] = alpha · op(a[z]) · op(b[z]) + beta · c[z] for z in [0, batch), in fp32 with fp32
    /// accumulation (one fused multiply-add per term). op(a) is m x k (stored k x m when
    /// <paramref name="transA"/>), op(b) is k x n (stored n x k when <paramref name="transB"/>), c is
    /// m x n (never transposed). When beta is 0, c is only written, never read (NaN in it does not leak).
    /// k = 0 gives beta · c (zeros when beta is 0); m or n = 0 launches nothing. The c matrices of
    /// different batch indices must not overlap each other (an OuterStride of 0 for c races), nor a or b.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="batch">How many products.</param>
    /// <param name="m">Rows of op(a) and c.</param>
    /// <param name="n">Columns of op(b) and c.</param>
    /// <param name="k">Columns of op(a), rows of op(b).</param>
    /// <param name="alpha">The product's scale.</param>
    /// <param name="a">The left operands' buffer.</param>
    /// <param name="aLayout">Where each a[z] lies in it.</param>
    /// <param name="transA">a[z] is stored k x m.</param>
    /// <param name="b">The right operands' buffer.</param>
    /// <param name="bLayout">Where each b[z] lies in it.</param>
    /// <param name="transB">b[z] is stored n x k.</param>
    /// <param name="beta">c's scale before the product is added; 0 to overwrite c.</param>
    /// <param name="c">The results' buffer.</param>
    /// <param name="cLayout">Where each c[z] lies in it.</param>
    public static void Multiply(Accelerator accelerator, int batch, int m, int n, int k, float alpha,
        ArrayView<float> a, GemmOperand aLayout, bool transA,
        ArrayView<float> b, GemmOperand bLayout, bool transB,
        float beta, ArrayView<float> c, GemmOperand cLayout)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (batch < 0 || m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentException($"GEMM sizes must not be negative; got batch {batch}, m {m}, n {n}, k {k}.");
        }
        string shape = $"batch {batch}, m {m}, n {n}, k {k}";
        OperandPlacement pa = Check(a, aLayout, transA ? k : m, transA ? m : k, batch, "a", transA ? "k x m (transA)" : "m x k", shape);
        OperandPlacement pb = Check(b, bLayout, transB ? n : k, transB ? k : n, batch, "b", transB ? "n x k (transB)" : "k x n", shape);
        OperandPlacement pc = Check(c, cLayout, m, n, batch, "c", "m x n", shape);
        if (batch == 0 || m == 0 || n == 0)
        {
            return;
        }
        var s = new FloatGemmShape { Batch = batch, M = m, N = n, K = k, Alpha = alpha, Beta = beta };
        var config = new KernelConfig(
            new Index3D((n + BlockN - 1) / BlockN, Math.Min((m + BlockM - 1) / BlockM, MaxGridYZ), Math.Min(batch, MaxGridYZ)),
            new Index3D(GroupSize));
        switch (transA, transB)
        {
            case (false, false):
                Launch<KInner, KOuter>(accelerator, config, a, b, c, s, pa, pb, pc);
                break;
            case (false, true):
                Launch<KInner, KInner>(accelerator, config, a, b, c, s, pa, pb, pc);
                break;
            case (true, false):
                Launch<KOuter, KOuter>(accelerator, config, a, b, c, s, pa, pb, pc);
                break;
            default:
                Launch<KOuter, KInner>(accelerator, config, a, b, c, s, pa, pb, pc);
                break;
        }
    }

    /// <summary>The multiply-adds of the product, two FLOPs each: 2·batch·m·n·k (the α/β scaling is not counted).</summary>
    /// <param name="batch">How many products.</param>
    /// <param name="m">Rows of c.</param>
    /// <param name="n">Columns of c.</param>
    /// <param name="k">The reduction length.</param>
    public static double Flops(long batch, long m, long n, long k) => 2.0 * batch * m * n * k;

    private static void Launch<TA, TB>(Accelerator accelerator, KernelConfig config, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        FloatGemmShape s, OperandPlacement pa, OperandPlacement pb, OperandPlacement pc)
        where TA : struct, IOperandLayout
        where TB : struct, IOperandLayout =>
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatGemmShape, OperandPlacement, OperandPlacement, OperandPlacement>(
            FloatGemmKernel<TA, TB>)(config, a, b, c, s, pa, pb, pc);

    /// <summary>
    /// Checks one operand on the host: a sane layout, Ld at least the stored row, and the last element
    /// any batch index touches inside the view.
    /// </summary>
    private static OperandPlacement Check(ArrayView<float> view, GemmOperand layout, int rows, int cols, int batch,
        string name, string stored, string shape)
    {
        string what = $"{name} (stored {stored} = {rows} x {cols}, {layout}; {shape})";
        if (layout.Ld < cols)
        {
            throw new ArgumentException($"{what}: Ld {layout.Ld} is shorter than a stored row of {cols}.", name);
        }
        if (layout.Offset < 0 || layout.OuterStride < 0 || layout.InnerStride < 0 || layout.InnerCount < 1 || layout.InnerDivisor < 1)
        {
            throw new ArgumentException($"{what}: Offset and strides must not be negative, InnerCount and InnerDivisor at least 1.", name);
        }
        if (batch > 0 && rows > 0 && cols > 0)
        {
            long last = MaxBase(layout, batch) + (long)(rows - 1) * layout.Ld + cols - 1;
            if (last >= view.Length)
            {
                throw new ArgumentException($"{what} reaches element {last}, but the view has {view.Length} elements.", name);
            }
        }
        return new OperandPlacement
        {
            Offset = layout.Offset,
            Ld = layout.Ld,
            OuterStride = layout.OuterStride,
            InnerCount = layout.InnerCount,
            InnerStride = layout.InnerStride,
            InnerDivisor = layout.InnerDivisor,
        };
    }

    /// <summary>
    /// The largest base(z) over z in [0, batch). With strides not negative, base grows with the outer index
    /// and with the inner one separately, so the maximum is at the last z, or at the end of the last full
    /// inner run before it (its inner index may be larger than the last z's).
    /// </summary>
    internal static long MaxBase(GemmOperand layout, int batch)
    {
        long Of(long outer, long inner) => layout.Offset + outer * layout.OuterStride + inner / layout.InnerDivisor * layout.InnerStride;
        long lastOuter = (batch - 1) / layout.InnerCount, lastInner = (batch - 1) % layout.InnerCount;
        long max = Of(lastOuter, lastInner);
        if (lastOuter > 0)
        {
            max = Math.Max(max, Of(lastOuter - 1, layout.InnerCount - 1));
        }
        return max;
    }
}
