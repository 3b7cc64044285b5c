using System.Runtime.CompilerServices;
using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>The head width as a compile-time constant, so every tile loop unrolls and stays in registers.</summary>
internal interface IHeadDim
{
    /// <summary>Values per head: 64 or 128.</summary>
    static abstract int Dim { get; }
}

/// <summary>Heads 64 wide (the tiny and small nanochat presets).</summary>
internal struct HeadDim64 : IHeadDim
{
    public static int Dim => 64;
}

/// <summary>Heads 128 wide (nanochat d20 and up).</summary>
internal struct HeadDim128 : IHeadDim
{
    public static int Dim => 128;
}

/// <summary>A warp's 16 x 8 accumulator tiles across one head (D/8 of them, up to 16).</summary>
[InlineArray(16)]
internal struct HeadTiles
{
    private MmaAccumulator _element;
}

/// <summary>A warp's 16 x 8 accumulator tiles across one 64-wide block of keys or queries.</summary>
[InlineArray(8)]
internal struct BlockTiles
{
    private MmaAccumulator _element;
}

/// <summary>A warp's A fragments across one head (D/16 of them, up to 8): its 16 query rows, kept in registers.</summary>
[InlineArray(8)]
internal struct HeadFragments
{
    private MmaFragmentA _element;
}

/// <summary>
/// Which blocks the attention kernels visit: for a query block, its key blocks (forward); for a key
/// block, its query blocks (backward). Each entry is the block index times two, plus one when the
/// block is only partly visible and needs the element mask. The dense schedule computes the causal
/// (and windowed) ranges; the sparse one reads lists a <see cref="AttentionMask"/> built on the host.
/// </summary>
internal interface IBlockSchedule
{
    static abstract int KeyBlocks(FlashParams p, ArrayView<int> schedule, int qBlock);

    static abstract int KeyBlock(FlashParams p, ArrayView<int> schedule, int qBlock, int index);

    static abstract int QueryBlocks(FlashParams p, ArrayView<int> schedule, int kBlock);

    static abstract int QueryBlock(FlashParams p, ArrayView<int> schedule, int kBlock, int index);
}

/// <summary>Every block the causal mask (and window) leaves, computed: no lists in memory.</summary>
internal struct DenseSchedule : IBlockSchedule
{
    private static int FirstKey(FlashParams p, int qBlock) => p.Window > 0 ? Math.Max(0, qBlock * FlashAttention.Block - p.Window) / FlashAttention.Block : 0;

    private static int LastQuery(FlashParams p, int kBlock) =>
        p.Window > 0 ? Math.Min(p.Sequence / FlashAttention.Block - 1, (kBlock * FlashAttention.Block + FlashAttention.Block - 1 + p.Window) / FlashAttention.Block) : p.Sequence / FlashAttention.Block - 1;

    /// <summary>A block straddles the diagonal or the window's edge.</summary>
    private static int Partial(FlashParams p, int qb, int kb) =>
        kb >= qb || (p.Window > 0 && (qb - kb + 1) * FlashAttention.Block - 1 > p.Window) ? 1 : 0;

    public static int KeyBlocks(FlashParams p, ArrayView<int> schedule, int qBlock) => qBlock - FirstKey(p, qBlock) + 1;

    public static int KeyBlock(FlashParams p, ArrayView<int> schedule, int qBlock, int index)
    {
        int kb = FirstKey(p, qBlock) + index;
        return kb * 2 + Partial(p, qBlock, kb);
    }

    public static int QueryBlocks(FlashParams p, ArrayView<int> schedule, int kBlock) => LastQuery(p, kBlock) - kBlock + 1;

    public static int QueryBlock(FlashParams p, ArrayView<int> schedule, int kBlock, int index)
    {
        int qb = kBlock + index;
        return qb * 2 + Partial(p, qb, kBlock);
    }
}

/// <summary>
/// Lists from an <see cref="AttentionMask"/>: [forward offsets (n + 1) | backward offsets (n + 1) |
/// forward entries | backward entries] for n blocks, CSR style.
/// </summary>
internal struct SparseSchedule : IBlockSchedule
{
    public static int KeyBlocks(FlashParams p, ArrayView<int> schedule, int qBlock) => schedule[qBlock + 1] - schedule[qBlock];

    public static int KeyBlock(FlashParams p, ArrayView<int> schedule, int qBlock, int index)
    {
        int n = p.Sequence / FlashAttention.Block;
        return schedule[2 * (n + 1) + schedule[qBlock] + index];
    }

    public static int QueryBlocks(FlashParams p, ArrayView<int> schedule, int kBlock)
    {
        int n = p.Sequence / FlashAttention.Block;
        return schedule[n + 1 + kBlock + 1] - schedule[n + 1 + kBlock];
    }

    public static int QueryBlock(FlashParams p, ArrayView<int> schedule, int kBlock, int index)
    {
        int n = p.Sequence / FlashAttention.Block;
        return schedule[2 * (n + 1) + schedule[n] + schedule[n + 1 + kBlock] + index];
    }
}

/// <summary>The scalar arguments of the attention kernels, passed as one small struct.</summary>
internal struct FlashParams
{
    public int Sequence;
    public int Heads;
    public int KvHeads;
    public int Window;
    /// <summary>1 when tokens attend only within their document (per-token ids in the documents view).</summary>
    public int Documents;
    /// <summary>The softmax scale (1/√D).</summary>
    public float Scale;
    /// <summary>The softmax scale times log2(e): scores in this unit go straight into ex2.</summary>
    public float ScaleLog2;
}

/// <summary>
/// The shape of one causal attention call. Tensors are row-major: queries, the output and its gradient
/// [<see cref="Batch"/>, <see cref="Sequence"/>, <see cref="Heads"/>, <see cref="HeadDim"/>]; keys and
/// values [Batch, Sequence, <see cref="KvHeads"/>, HeadDim]; the log-sum-exp [Batch, Heads, Sequence].
/// </summary>
/// <param name="Batch">Sequences in the batch.</param>
/// <param name="Sequence">Tokens per sequence: a multiple of 64.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads (grouped-query attention); divides <paramref name="Heads"/>.</param>
/// <param name="HeadDim">Values per head: 64 or 128.</param>
/// <param name="Window">
/// 0 for full causal attention; otherwise query i sees keys i − Window … i (nanochat's short window).
/// </param>
public readonly record struct AttentionShape(int Batch, int Sequence, int Heads, int KvHeads, int HeadDim, int Window = 0)
{
    /// <summary>Elements of the query, output and output-gradient tensors.</summary>
    public long QueryElements => (long)Batch * Sequence * Heads * HeadDim;

    /// <summary>Elements of the key and value tensors (and their gradients).</summary>
    public long KeyValueElements => (long)Batch * Sequence * KvHeads * HeadDim;

    /// <summary>Elements of the log-sum-exp the forward pass writes for the backward pass.</summary>
    public long RowStatistics => (long)Batch * Heads * Sequence;

    /// <summary>Query-key pairs the mask lets through (each query sees itself and the keys before it, within the window).</summary>
    public long VisiblePairs
    {
        get
        {
            long pairs = 0;
            for (long i = 0; i < Sequence; i++)
            {
                pairs += Window > 0 ? Math.Min(i, Window) + 1 : i + 1;
            }
            return pairs * Batch * Heads;
        }
    }

    internal void Validate()
    {
        string problem =
            Batch <= 0 || Sequence <= 0 || Heads <= 0 || KvHeads <= 0 ? "every size must be positive" :
            Sequence % FlashAttention.Block != 0 ? $"the sequence length must be a multiple of {FlashAttention.Block} (pad it)" :
            Heads % KvHeads != 0 ? "the query heads must be a multiple of the key/value heads" :
            HeadDim is not (64 or 128) ? "the head width must be 64 or 128" :
            Window < 0 ? "the window must be 0 (full causal) or positive" :
            QueryElements + RowStatistics > int.MaxValue || KeyValueElements > int.MaxValue ? "the kernels index with 32 bits: split the batch" : "";
        if (problem.Length > 0)
        {
            throw new ArgumentException($"Attention shape {this}: {problem}.");
        }
    }
}

/// <summary>
/// Causal self-attention in bf16 on tensor cores, the FlashAttention-2 way: the T x T score matrix never
/// exists in memory. The forward pass streams 64-key blocks past a 64-query block held in registers with
/// an online softmax and writes the output and each row's log-sum-exp; the backward pass recomputes the
/// probabilities block by block from that log-sum-exp. Grouped-query attention and nanochat's sliding
/// window are supported; blocks the mask hides entirely are skipped, so a window costs in proportion to
/// its width.
/// </summary>
/// <remarks>
/// <para>Forward: one group of 4 warps per (64-query block, batch, head); each warp owns 16 query rows.
/// Q comes in once by cp.async; K and V blocks are double-buffered, the next block in flight while the
/// tensor cores work on this one. S = Q·Kᵀ (mma.sync m16n8k16, K through ldmatrix), the running row
/// max and sum stay in registers (two rows a lane, reduced across the four lanes of a quad with
/// shuffles), P is repacked from accumulator to A-fragment layout in registers (the two layouts agree
/// row by row), and O += P·V takes V through ldmatrix.trans.</para>
/// <para>Backward: one group of 4 warps per (64-key block, batch, key/value head); each warp owns 16 keys
/// and keeps their dK and dV in registers across every query head of its group and every query block
/// that sees them, so dK and dV are written once, without atomics. Per query block: Sᵀ = K·Qᵀ and
/// dPᵀ = V·dOᵀ, Pᵀ = exp(Sᵀ·scale − lse), dSᵀ = Pᵀ∘(dPᵀ − Δ) with Δ = rowsum(dO∘O) from a
/// preparation kernel, dV += Pᵀ·dO, dK += dSᵀ·Q; dS goes through shared memory transposed so the warps
/// can split dQ = dS·K by queries and add it atomically into an fp32 buffer, converted to bf16 last.</para>
/// <para>Shared rows are XOR-swizzled by 16-byte chunk (chunk ^ row mod 8), so the eight rows one
/// ldmatrix phase reads land in eight different bank groups, plain or transposed.</para>
/// </remarks>
public static class FlashAttention
{
    /// <summary>Queries (forward) or keys (backward) per group, and the block the other side streams in.</summary>
    public const int Block = 64;

    private const int Threads = 128;
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2 = 0.693147180559945309f;

    /// <summary>Where chunk <paramref name="chunk"/> of tile row <paramref name="row"/> lives in a tile of rows <paramref name="chunksPerRow"/> chunks long.</summary>
    internal static int Swizzle(int row, int chunk, int chunksPerRow) => row * chunksPerRow + (chunk ^ (row & 7));

    /// <summary>Whether query <paramref name="query"/> may attend to key <paramref name="key"/> (positions in sequence <paramref name="batch"/>).</summary>
    private static bool Visible(FlashParams p, ArrayView<int> documents, int batch, int query, int key) =>
        key <= query && (p.Window <= 0 || query - key <= p.Window)
        && (p.Documents == 0 || documents[batch * p.Sequence + query] == documents[batch * p.Sequence + key]);

    /// <summary>The low two 8x8 matrices of an x4 load: one B fragment.</summary>
    private static MmaFragmentB Low(MmaFragmentA four)
    {
        MmaFragmentB b = default;
        b.R0 = four.R0;
        b.R1 = four.R1;
        return b;
    }

    /// <summary>The high two 8x8 matrices of an x4 load: the next B fragment.</summary>
    private static MmaFragmentB High(MmaFragmentA four)
    {
        MmaFragmentB b = default;
        b.R0 = four.R2;
        b.R1 = four.R3;
        return b;
    }

    /// <summary>
    /// Two adjacent 16x8 accumulator tiles as one 16x16 A fragment, rounded to bf16: accumulator element
    /// pairs and A register pairs cover the same rows and adjacent columns, so this is a repacking.
    /// </summary>
    private static MmaFragmentA ToFragment(MmaAccumulator left, MmaAccumulator right)
    {
        MmaFragmentA a = default;
        a.R0 = TensorCore.PackBFloat162(left.C0, left.C1);
        a.R1 = TensorCore.PackBFloat162(left.C2, left.C3);
        a.R2 = TensorCore.PackBFloat162(right.C0, right.C1);
        a.R3 = TensorCore.PackBFloat162(right.C2, right.C3);
        return a;
    }

    /// <summary>Starts copying 64 rows of one head into a swizzled shared tile; each of the 128 threads moves its share of 16-byte chunks.</summary>
    private static void CopyTile(ArrayView<Chunk16> tile, ArrayView<Chunk16> source, int firstChunk, int rowStride, int chunksPerRow)
    {
        int t = Group.IdxX;
        for (int i = 0; i < Block * chunksPerRow / Threads; i++)
        {
            int c = t + i * Threads;
            int row = c / chunksPerRow, chunk = c % chunksPerRow;
            AsyncCopy.Copy(ref tile[Swizzle(row, chunk, chunksPerRow)], ref source[firstChunk + row * rowStride + chunk]);
        }
    }

    [Kernel]
    internal static void ForwardKernel<THead, TSchedule>(ArrayView<Chunk16> q, ArrayView<Chunk16> k, ArrayView<Chunk16> v, ArrayView<uint> o, ArrayView<float> lse,
        ArrayView<int> schedule, ArrayView<int> documents, FlashParams p)
        where THead : struct, IHeadDim
        where TSchedule : struct, IBlockSchedule
    {
        int cpr = THead.Dim / 8;
        int tile = Block * cpr;
        ArrayView<Chunk16> shared = SharedMemory.GetDynamic<Chunk16>();
        ArrayView<Chunk16> sq = shared.SubView(0, tile);
        ArrayView<Chunk16> sk = shared.SubView(tile, 2 * tile);
        ArrayView<Chunk16> sv = shared.SubView(3 * tile, 2 * tile);
        ArrayView<ushort> sq16 = sq.Cast<ushort>(), sk16 = sk.Cast<ushort>(), sv16 = sv.Cast<ushort>();
        int lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int qBlock = Grid.IdxX, bh = Grid.IdxY;
        int batch = bh / p.Heads, head = bh - batch * p.Heads;
        int kvHead = head / (p.Heads / p.KvHeads);
        int q0 = qBlock * Block;
        int qBase = (batch * p.Sequence * p.Heads + head) * cpr, qStride = p.Heads * cpr;
        int kvBase = (batch * p.Sequence * p.KvHeads + kvHead) * cpr, kvStride = p.KvHeads * cpr;
        int visits = TSchedule.KeyBlocks(p, schedule, qBlock);
        int entry = TSchedule.KeyBlock(p, schedule, qBlock, 0);

        CopyTile(sq, q, qBase + q0 * qStride, qStride, cpr);
        AsyncCopy.Commit();
        CopyTile(sk, k, kvBase + (entry >> 1) * Block * kvStride, kvStride, cpr);
        CopyTile(sv, v, kvBase + (entry >> 1) * Block * kvStride, kvStride, cpr);
        AsyncCopy.Commit();
        AsyncCopy.Wait(1);
        Group.Barrier();

        // The warp's 16 query rows as A fragments, one per 16 columns of the head, for the whole pass.
        HeadFragments qf = default;
        for (int kk = 0; kk < THead.Dim / 16; kk++)
        {
            qf[kk] = TensorCore.LoadMatrixX4(ref sq16[Swizzle(warp * 16 + (lane & 15), kk * 2 + (lane >> 4), cpr) * 8]);
        }

        // Each lane holds rows r0 = lane/4 and r0 + 8 of the warp's 16: a running max (in log2 units of the
        // scaled score), a running sum of this lane's share of the row (summed across the quad at the end).
        int r0 = q0 + warp * 16 + (lane >> 2), r1 = r0 + 8;
        float max0 = float.NegativeInfinity, max1 = float.NegativeInfinity, sum0 = 0f, sum1 = 0f;
        HeadTiles acc = default;
        for (int visit = 0; visit < visits; visit++)
        {
            int kb = entry >> 1;
            bool edge = (entry & 1) != 0;
            int stage = visit & 1;
            if (visit + 1 < visits)
            {
                entry = TSchedule.KeyBlock(p, schedule, qBlock, visit + 1);
                int next = (stage ^ 1) * tile;
                CopyTile(sk.SubView(next, tile), k, kvBase + (entry >> 1) * Block * kvStride, kvStride, cpr);
                CopyTile(sv.SubView(next, tile), v, kvBase + (entry >> 1) * Block * kvStride, kvStride, cpr);
            }
            AsyncCopy.Commit();
            AsyncCopy.Wait(1); // Block kb has landed (for this thread) ...
            Group.Barrier();   // ... and for every thread.
            int offset = stage * tile;

            // S = Q·Kᵀ for 16 queries x 64 keys: 8 tiles.
            BlockTiles s = default;
            for (int kk = 0; kk < THead.Dim / 16; kk++)
            {
                for (int jp = 0; jp < 4; jp++)
                {
                    int row = jp * 16 + (lane & 7) + ((lane >> 4) << 3);
                    MmaFragmentA four = TensorCore.LoadMatrixX4(ref sk16[(offset + Swizzle(row, kk * 2 + ((lane >> 3) & 1), cpr)) * 8]);
                    s[2 * jp] = TensorCore.MmaBF16(qf[kk], Low(four), s[2 * jp]);
                    s[2 * jp + 1] = TensorCore.MmaBF16(qf[kk], High(four), s[2 * jp + 1]);
                }
            }

            // Scale into log2 units, mask where the schedule says the block is only partly visible (the
            // diagonal, the window's edge, a document boundary), and take each row's block max across the quad.
            int k0 = kb * Block;
            float blockMax0 = float.NegativeInfinity, blockMax1 = float.NegativeInfinity;
            for (int n = 0; n < 8; n++)
            {
                MmaAccumulator a = s[n];
                a.C0 *= p.ScaleLog2;
                a.C1 *= p.ScaleLog2;
                a.C2 *= p.ScaleLog2;
                a.C3 *= p.ScaleLog2;
                if (edge)
                {
                    int key = k0 + n * 8 + (lane & 3) * 2;
                    a.C0 = Visible(p, documents, batch, r0, key) ? a.C0 : float.NegativeInfinity;
                    a.C1 = Visible(p, documents, batch, r0, key + 1) ? a.C1 : float.NegativeInfinity;
                    a.C2 = Visible(p, documents, batch, r1, key) ? a.C2 : float.NegativeInfinity;
                    a.C3 = Visible(p, documents, batch, r1, key + 1) ? a.C3 : float.NegativeInfinity;
                }
                blockMax0 = FastMath.Max(blockMax0, FastMath.Max(a.C0, a.C1));
                blockMax1 = FastMath.Max(blockMax1, FastMath.Max(a.C2, a.C3));
                s[n] = a;
            }
            blockMax0 = FastMath.Max(blockMax0, Warp.ShuffleXor(blockMax0, 1));
            blockMax0 = FastMath.Max(blockMax0, Warp.ShuffleXor(blockMax0, 2));
            blockMax1 = FastMath.Max(blockMax1, Warp.ShuffleXor(blockMax1, 1));
            blockMax1 = FastMath.Max(blockMax1, Warp.ShuffleXor(blockMax1, 2));

            // The online softmax: rescale what came before by 2^(old max - new max). A row whose keys were all
            // masked so far keeps max -inf; subtracting 0 instead keeps exp2(-inf - -inf) from making a NaN.
            float newMax0 = FastMath.Max(max0, blockMax0), newMax1 = FastMath.Max(max1, blockMax1);
            float base0 = newMax0 == float.NegativeInfinity ? 0f : newMax0;
            float base1 = newMax1 == float.NegativeInfinity ? 0f : newMax1;
            float alpha0 = FastMath.Ex2(max0 - base0), alpha1 = FastMath.Ex2(max1 - base1);
            max0 = newMax0;
            max1 = newMax1;
            float blockSum0 = 0f, blockSum1 = 0f;
            for (int n = 0; n < 8; n++)
            {
                MmaAccumulator a = s[n];
                a.C0 = FastMath.Ex2(a.C0 - base0);
                a.C1 = FastMath.Ex2(a.C1 - base0);
                a.C2 = FastMath.Ex2(a.C2 - base1);
                a.C3 = FastMath.Ex2(a.C3 - base1);
                blockSum0 += a.C0 + a.C1;
                blockSum1 += a.C2 + a.C3;
                s[n] = a;
            }
            sum0 = sum0 * alpha0 + blockSum0;
            sum1 = sum1 * alpha1 + blockSum1;
            for (int j = 0; j < THead.Dim / 8; j++)
            {
                MmaAccumulator a = acc[j];
                a.C0 *= alpha0;
                a.C1 *= alpha0;
                a.C2 *= alpha1;
                a.C3 *= alpha1;
                acc[j] = a;
            }

            // O += P·V: P from registers (16 keys per step), V through ldmatrix.trans (rows are keys).
            for (int kk = 0; kk < 4; kk++)
            {
                MmaFragmentA pf = ToFragment(s[2 * kk], s[2 * kk + 1]);
                for (int dp = 0; dp < THead.Dim / 16; dp++)
                {
                    int row = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
                    MmaFragmentA four = TensorCore.LoadMatrixX4Transposed(ref sv16[(offset + Swizzle(row, dp * 2 + (lane >> 4), cpr)) * 8]);
                    acc[2 * dp] = TensorCore.MmaBF16(pf, Low(four), acc[2 * dp]);
                    acc[2 * dp + 1] = TensorCore.MmaBF16(pf, High(four), acc[2 * dp + 1]);
                }
            }
            Group.Barrier(); // Everyone is done with this stage before the next iteration refills it.
        }
        AsyncCopy.Wait(0);

        sum0 += Warp.ShuffleXor(sum0, 1);
        sum0 += Warp.ShuffleXor(sum0, 2);
        sum1 += Warp.ShuffleXor(sum1, 1);
        sum1 += Warp.ShuffleXor(sum1, 2);
        float inverse0 = 1f / sum0, inverse1 = 1f / sum1;
        int half = THead.Dim / 2;
        int out0 = ((batch * p.Sequence + r0) * p.Heads + head) * half, out1 = out0 + 8 * p.Heads * half;
        for (int j = 0; j < THead.Dim / 8; j++)
        {
            int pair = j * 4 + (lane & 3);
            MmaAccumulator a = acc[j];
            o[out0 + pair] = TensorCore.PackBFloat162(a.C0 * inverse0, a.C1 * inverse0);
            o[out1 + pair] = TensorCore.PackBFloat162(a.C2 * inverse1, a.C3 * inverse1);
        }
        if ((lane & 3) == 0)
        {
            // Natural log-sum-exp of the scaled scores: ln(Σ 2^(s·scale·log2e)) = (max + log2 sum)·ln 2.
            int row = bh * p.Sequence;
            lse[row + r0] = (max0 + FastMath.Lg2(sum0)) * Ln2;
            lse[row + r1] = (max1 + FastMath.Lg2(sum1)) * Ln2;
        }
    }

    /// <summary>Δ = rowsum(dO ∘ O) per (batch, head, query), and the fp32 dQ buffer zeroed: one thread per row.</summary>
    [Kernel]
    internal static void PrepareKernel(ArrayView<uint> o, ArrayView<uint> dout, ArrayView<float> delta, ArrayView<float> dqAccum, FlashParams p, int headDim)
    {
        int row = Grid.GlobalIndexX; // (batch·T + t)·H + head
        if (row >= dqAccum.Length / headDim)
        {
            return;
        }
        int half = headDim / 2;
        float sum = 0f;
        for (int i = 0; i < half; i++)
        {
            uint a = o[row * half + i], b = dout[row * half + i];
            sum += TensorCore.UnpackBFloat16(a, false) * TensorCore.UnpackBFloat16(b, false)
                + TensorCore.UnpackBFloat16(a, true) * TensorCore.UnpackBFloat16(b, true);
        }
        for (int i = 0; i < headDim; i++)
        {
            dqAccum[row * headDim + i] = 0f;
        }
        int head = row % p.Heads, token = row / p.Heads;
        int batch = token / p.Sequence, t = token - batch * p.Sequence;
        delta[(batch * p.Heads + head) * p.Sequence + t] = sum;
    }

    [Kernel]
    internal static void BackwardKernel<THead, TSchedule>(
        ArrayView<Chunk16> q, ArrayView<Chunk16> k, ArrayView<Chunk16> v, ArrayView<Chunk16> dout, ArrayView<float> lse, ArrayView<float> delta,
        ArrayView<float> dqAccum, ArrayView<uint> dk, ArrayView<uint> dv, ArrayView<int> schedule, ArrayView<int> documents, FlashParams p)
        where THead : struct, IHeadDim
        where TSchedule : struct, IBlockSchedule
    {
        int cpr = THead.Dim / 8;
        int tile = Block * cpr;
        ArrayView<Chunk16> shared = SharedMemory.GetDynamic<Chunk16>();
        ArrayView<Chunk16> sk = shared.SubView(0, tile);
        ArrayView<Chunk16> sv = shared.SubView(tile, tile);
        ArrayView<Chunk16> sq = shared.SubView(2 * tile, tile);
        ArrayView<Chunk16> sdo = shared.SubView(3 * tile, tile);
        ArrayView<Chunk16> sds = shared.SubView(4 * tile, Block * 8); // dS as [query, key] bf16: 64 x 64.
        ArrayView<float> stats = shared.SubView(4 * tile + Block * 8, 2 * Block / 4).Cast<float>(); // lse·log2e, then Δ.
        ArrayView<ushort> sk16 = sk.Cast<ushort>(), sv16 = sv.Cast<ushort>(), sq16 = sq.Cast<ushort>(), sdo16 = sdo.Cast<ushort>(), sds16 = sds.Cast<ushort>();
        int t = Group.IdxX, lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int kBlock = Grid.IdxX, bh = Grid.IdxY;
        int batch = bh / p.KvHeads, kvHead = bh - batch * p.KvHeads;
        int group = p.Heads / p.KvHeads;
        int k0 = kBlock * Block;
        int kvStride = p.KvHeads * cpr, qStride = p.Heads * cpr;
        int visits = TSchedule.QueryBlocks(p, schedule, kBlock);

        CopyTile(sk, k, (batch * p.Sequence * p.KvHeads + kvHead) * cpr + k0 * kvStride, kvStride, cpr);
        CopyTile(sv, v, (batch * p.Sequence * p.KvHeads + kvHead) * cpr + k0 * kvStride, kvStride, cpr);
        AsyncCopy.Commit();

        // Each lane holds keys key0 = lane/4 and key0 + 8 of the warp's 16 (rows of Sᵀ), and two adjacent
        // queries of each 8-wide tile (its columns).
        int keyLocal = warp * 16 + (lane >> 2);
        int key0 = k0 + keyLocal, key1 = key0 + 8;
        HeadTiles dkAcc = default, dvAcc = default;
        for (int g = 0; g < group; g++)
        {
            int head = kvHead * group + g;
            int qBase = (batch * p.Sequence * p.Heads + head) * cpr;
            int statBase = (batch * p.Heads + head) * p.Sequence;
            for (int visit = 0; visit < visits; visit++)
            {
                int entry = TSchedule.QueryBlock(p, schedule, kBlock, visit);
                bool partial = (entry & 1) != 0;
                int q0 = (entry >> 1) * Block;
                Group.Barrier(); // Everyone is done with the previous block's Q, dO, dS and statistics.
                CopyTile(sq, q, qBase + q0 * qStride, qStride, cpr);
                CopyTile(sdo, dout, qBase + q0 * qStride, qStride, cpr);
                AsyncCopy.Commit();
                stats[t] = t < Block ? lse[statBase + q0 + t] * Log2E : delta[statBase + q0 + t - Block];
                AsyncCopy.Wait(0);
                Group.Barrier();

                // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ: 16 keys x 64 queries each, the warp's K and V rows as A.
                BlockTiles s = default, dp = default;
                for (int kk = 0; kk < THead.Dim / 16; kk++)
                {
                    int at = Swizzle(warp * 16 + (lane & 15), kk * 2 + (lane >> 4), cpr) * 8;
                    MmaFragmentA kf = TensorCore.LoadMatrixX4(ref sk16[at]);
                    MmaFragmentA vf = TensorCore.LoadMatrixX4(ref sv16[at]);
                    for (int jp = 0; jp < 4; jp++)
                    {
                        int row = jp * 16 + (lane & 7) + ((lane >> 4) << 3);
                        int from = Swizzle(row, kk * 2 + ((lane >> 3) & 1), cpr) * 8;
                        MmaFragmentA four = TensorCore.LoadMatrixX4(ref sq16[from]);
                        s[2 * jp] = TensorCore.MmaBF16(kf, Low(four), s[2 * jp]);
                        s[2 * jp + 1] = TensorCore.MmaBF16(kf, High(four), s[2 * jp + 1]);
                        four = TensorCore.LoadMatrixX4(ref sdo16[from]);
                        dp[2 * jp] = TensorCore.MmaBF16(vf, Low(four), dp[2 * jp]);
                        dp[2 * jp + 1] = TensorCore.MmaBF16(vf, High(four), dp[2 * jp + 1]);
                    }
                }

                // Pᵀ = 2^(Sᵀ·scale·log2e − lse·log2e), zero where masked; dSᵀ = Pᵀ∘(dPᵀ − Δ). dS goes to shared
                // memory as [query, key] for the dQ product.
                for (int n = 0; n < 8; n++)
                {
                    int query = n * 8 + (lane & 3) * 2;
                    float l0 = stats[query], l1 = stats[query + 1], d0 = stats[Block + query], d1 = stats[Block + query + 1];
                    MmaAccumulator a = s[n], b = dp[n];
                    a.C0 = FastMath.Ex2(a.C0 * p.ScaleLog2 - l0);
                    a.C1 = FastMath.Ex2(a.C1 * p.ScaleLog2 - l1);
                    a.C2 = FastMath.Ex2(a.C2 * p.ScaleLog2 - l0);
                    a.C3 = FastMath.Ex2(a.C3 * p.ScaleLog2 - l1);
                    if (partial)
                    {
                        a.C0 = Visible(p, documents, batch, q0 + query, key0) ? a.C0 : 0f;
                        a.C1 = Visible(p, documents, batch, q0 + query + 1, key0) ? a.C1 : 0f;
                        a.C2 = Visible(p, documents, batch, q0 + query, key1) ? a.C2 : 0f;
                        a.C3 = Visible(p, documents, batch, q0 + query + 1, key1) ? a.C3 : 0f;
                    }
                    b.C0 = a.C0 * (b.C0 - d0);
                    b.C1 = a.C1 * (b.C1 - d1);
                    b.C2 = a.C2 * (b.C2 - d0);
                    b.C3 = a.C3 * (b.C3 - d1);
                    s[n] = a;
                    dp[n] = b;
                    sds16[Swizzle(query, keyLocal >> 3, 8) * 8 + (keyLocal & 7)] = Bits(b.C0);
                    sds16[Swizzle(query + 1, keyLocal >> 3, 8) * 8 + (keyLocal & 7)] = Bits(b.C1);
                    sds16[Swizzle(query, (keyLocal + 8) >> 3, 8) * 8 + (keyLocal & 7)] = Bits(b.C2);
                    sds16[Swizzle(query + 1, (keyLocal + 8) >> 3, 8) * 8 + (keyLocal & 7)] = Bits(b.C3);
                }

                // dV += Pᵀ·dO and dK += dSᵀ·Q, 16 queries per step; dO and Q through ldmatrix.trans (rows are queries).
                for (int kk = 0; kk < 4; kk++)
                {
                    MmaFragmentA pf = ToFragment(s[2 * kk], s[2 * kk + 1]);
                    MmaFragmentA df = ToFragment(dp[2 * kk], dp[2 * kk + 1]);
                    int row = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
                    for (int dd = 0; dd < THead.Dim / 16; dd++)
                    {
                        int from = Swizzle(row, dd * 2 + (lane >> 4), cpr) * 8;
                        MmaFragmentA four = TensorCore.LoadMatrixX4Transposed(ref sdo16[from]);
                        dvAcc[2 * dd] = TensorCore.MmaBF16(pf, Low(four), dvAcc[2 * dd]);
                        dvAcc[2 * dd + 1] = TensorCore.MmaBF16(pf, High(four), dvAcc[2 * dd + 1]);
                        four = TensorCore.LoadMatrixX4Transposed(ref sq16[from]);
                        dkAcc[2 * dd] = TensorCore.MmaBF16(df, Low(four), dkAcc[2 * dd]);
                        dkAcc[2 * dd + 1] = TensorCore.MmaBF16(df, High(four), dkAcc[2 * dd + 1]);
                    }
                }
                Group.Barrier(); // dS is complete in shared memory.

                // dQ = dS·K for the warp's 16 queries: dS rows as A, K through ldmatrix.trans (rows are keys).
                HeadTiles dq = default;
                for (int kk = 0; kk < 4; kk++)
                {
                    MmaFragmentA af = TensorCore.LoadMatrixX4(ref sds16[Swizzle(warp * 16 + (lane & 15), kk * 2 + (lane >> 4), 8) * 8]);
                    int row = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
                    for (int dd = 0; dd < THead.Dim / 16; dd++)
                    {
                        MmaFragmentA four = TensorCore.LoadMatrixX4Transposed(ref sk16[Swizzle(row, dd * 2 + (lane >> 4), cpr) * 8]);
                        dq[2 * dd] = TensorCore.MmaBF16(af, Low(four), dq[2 * dd]);
                        dq[2 * dd + 1] = TensorCore.MmaBF16(af, High(four), dq[2 * dd + 1]);
                    }
                }
                int dq0 = ((batch * p.Sequence + q0 + warp * 16 + (lane >> 2)) * p.Heads + head) * THead.Dim;
                int dq1 = dq0 + 8 * p.Heads * THead.Dim;
                for (int j = 0; j < THead.Dim / 8; j++)
                {
                    int col = j * 8 + (lane & 3) * 2;
                    MmaAccumulator a = dq[j];
                    Atomic.Add(ref dqAccum[dq0 + col], a.C0 * p.Scale);
                    Atomic.Add(ref dqAccum[dq0 + col + 1], a.C1 * p.Scale);
                    Atomic.Add(ref dqAccum[dq1 + col], a.C2 * p.Scale);
                    Atomic.Add(ref dqAccum[dq1 + col + 1], a.C3 * p.Scale);
                }
            }
        }
        AsyncCopy.Wait(0);

        int half = THead.Dim / 2;
        int out0 = ((batch * p.Sequence + key0) * p.KvHeads + kvHead) * half, out1 = out0 + 8 * p.KvHeads * half;
        for (int j = 0; j < THead.Dim / 8; j++)
        {
            int pair = j * 4 + (lane & 3);
            MmaAccumulator a = dkAcc[j], b = dvAcc[j];
            dk[out0 + pair] = TensorCore.PackBFloat162(a.C0 * p.Scale, a.C1 * p.Scale);
            dk[out1 + pair] = TensorCore.PackBFloat162(a.C2 * p.Scale, a.C3 * p.Scale);
            dv[out0 + pair] = TensorCore.PackBFloat162(b.C0, b.C1);
            dv[out1 + pair] = TensorCore.PackBFloat162(b.C2, b.C3);
        }
    }

    /// <summary>The fp32 dQ buffer rounded to bf16 pairs.</summary>
    [Kernel]
    internal static void FinishKernel(ArrayView<float> dqAccum, ArrayView<uint> dq)
    {
        int i = Grid.GlobalIndexX;
        if (i < dq.Length)
        {
            dq[i] = TensorCore.PackBFloat162(dqAccum[2 * i], dqAccum[2 * i + 1]);
        }
    }

    /// <summary>The bf16 bits of <paramref name="x"/>, rounded to nearest even.</summary>
    private static ushort Bits(float x) => (ushort)TensorCore.PackBFloat162(x, 0f);

    private static FlashParams Params(AttentionShape shape, DeviceAttentionMask? mask)
    {
        float scale = 1f / MathF.Sqrt(shape.HeadDim);
        return new FlashParams
        {
            Sequence = shape.Sequence,
            Heads = shape.Heads,
            KvHeads = shape.KvHeads,
            Window = shape.Window,
            Documents = mask?.Mask.DocumentIds is null ? 0 : 1,
            Scale = scale,
            ScaleLog2 = scale * Log2E,
        };
    }

    /// <summary>Shared memory of the forward kernel: Q, then two stages of K and V.</summary>
    internal static int ForwardSharedBytes(int headDim) => 5 * Block * headDim * 2;

    /// <summary>Shared memory of the backward kernel: K, V, Q, dO, dS and the row statistics.</summary>
    internal static int BackwardSharedBytes(int headDim) => 4 * Block * headDim * 2 + Block * Block * 2 + 2 * Block * 4;

    /// <summary>
    /// Output = softmax(Q·Kᵀ/√D + causal mask)·V, and each row's natural log-sum-exp of the scaled scores
    /// (what <see cref="Backward"/> needs). bf16 in and out, fp32 inside; the scale is 1/√D.
    /// </summary>
    /// <param name="accelerator">A CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="q">Queries [B, T, H, D].</param>
    /// <param name="k">Keys [B, T, Hkv, D].</param>
    /// <param name="v">Values [B, T, Hkv, D].</param>
    /// <param name="output">Written: [B, T, H, D].</param>
    /// <param name="lse">Written: [B, H, T].</param>
    /// <param name="shape">The sizes, and the window.</param>
    /// <param name="mask">
    /// Null for the causal mask of <paramref name="shape"/> (and its window); otherwise a block-sparse mask
    /// on the accelerator (<see cref="AttentionMask.Upload"/>) for the same sequence length and window.
    /// </param>
    public static void Forward(Accelerator accelerator, ArrayView<BFloat16> q, ArrayView<BFloat16> k, ArrayView<BFloat16> v, ArrayView<BFloat16> output, ArrayView<float> lse, AttentionShape shape,
        DeviceAttentionMask? mask = null)
    {
        Check(accelerator, shape);
        Require(q.Length, shape.QueryElements, "q", shape, "[B, T, H, D]");
        Require(k.Length, shape.KeyValueElements, "k", shape, "[B, T, Hkv, D]");
        Require(v.Length, shape.KeyValueElements, "v", shape, "[B, T, Hkv, D]");
        Require(output.Length, shape.QueryElements, "output", shape, "[B, T, H, D]");
        Require(lse.Length, shape.RowStatistics, "lse", shape, "[B, H, T]");
        CheckMask(accelerator, shape, mask);
        var config = new KernelConfig(new Index3D(shape.Sequence / Block, shape.Batch * shape.Heads), new Index3D(Threads), ForwardSharedBytes(shape.HeadDim));
        var args = new object[] { q.Cast<Chunk16>(), k.Cast<Chunk16>(), v.Cast<Chunk16>(), output.Cast<uint>(), lse, mask?.Schedule ?? default, mask?.Documents ?? default, Params(shape, mask) };
        switch (shape.HeadDim, mask is null)
        {
            case (64, true): LaunchForward<HeadDim64, DenseSchedule>(accelerator, config, args); break;
            case (64, false): LaunchForward<HeadDim64, SparseSchedule>(accelerator, config, args); break;
            case (_, true): LaunchForward<HeadDim128, DenseSchedule>(accelerator, config, args); break;
            default: LaunchForward<HeadDim128, SparseSchedule>(accelerator, config, args); break;
        }
    }

    private static void LaunchForward<THead, TSchedule>(Accelerator accelerator, KernelConfig config, object[] args)
        where THead : struct, IHeadDim
        where TSchedule : struct, IBlockSchedule =>
        accelerator.Launch((Action<ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<uint>, ArrayView<float>, ArrayView<int>, ArrayView<int>, FlashParams>)ForwardKernel<THead, TSchedule>,
            config, args);

    private static void LaunchBackward<THead, TSchedule>(Accelerator accelerator, KernelConfig config, object[] args)
        where THead : struct, IHeadDim
        where TSchedule : struct, IBlockSchedule =>
        accelerator.Launch((Action<ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<Chunk16>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<uint>, ArrayView<uint>,
            ArrayView<int>, ArrayView<int>, FlashParams>)BackwardKernel<THead, TSchedule>, config, args);

    private static void CheckMask(Accelerator accelerator, AttentionShape shape, DeviceAttentionMask? mask)
    {
        if (mask is null)
        {
            return;
        }
        if (mask.Accelerator != accelerator)
        {
            throw new ArgumentException($"The mask lives on {mask.Accelerator.Name}; the attention runs on {accelerator.Name}. Upload it there.", nameof(mask));
        }
        AttentionMask m = mask.Mask;
        if (m.Sequence != shape.Sequence || m.Window != shape.Window || (m.DocumentIds is not null && m.Batch != shape.Batch))
        {
            throw new ArgumentException(
                $"The mask was built for sequence {m.Sequence}, window {m.Window}{(m.DocumentIds is null ? "" : $", batch {m.Batch}")}; the attention has {shape}.", nameof(mask));
        }
    }

    /// <summary>Floats of scratch <see cref="Backward"/> needs: an fp32 dQ and Δ per row.</summary>
    /// <param name="shape">The sizes.</param>
    public static long WorkspaceElements(AttentionShape shape) => shape.QueryElements + shape.RowStatistics;

    /// <summary>
    /// The gradients of <see cref="Forward"/>: dQ, dK, dV from dO, recomputing the probabilities from the
    /// saved log-sum-exp. dK and dV sum over the query heads that share each key/value head.
    /// </summary>
    /// <param name="accelerator">A CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="q">Queries [B, T, H, D].</param>
    /// <param name="k">Keys [B, T, Hkv, D].</param>
    /// <param name="v">Values [B, T, Hkv, D].</param>
    /// <param name="output">The forward output [B, T, H, D].</param>
    /// <param name="outputGradient">dO [B, T, H, D].</param>
    /// <param name="lse">The forward log-sum-exp [B, H, T].</param>
    /// <param name="dq">Written: [B, T, H, D].</param>
    /// <param name="dk">Written: [B, T, Hkv, D].</param>
    /// <param name="dv">Written: [B, T, Hkv, D].</param>
    /// <param name="workspace">Scratch of <see cref="WorkspaceElements"/> floats.</param>
    /// <param name="shape">The sizes, and the window.</param>
    /// <param name="mask">The mask the forward pass used (null for the causal one).</param>
    public static void Backward(
        Accelerator accelerator, ArrayView<BFloat16> q, ArrayView<BFloat16> k, ArrayView<BFloat16> v, ArrayView<BFloat16> output, ArrayView<BFloat16> outputGradient,
        ArrayView<float> lse, ArrayView<BFloat16> dq, ArrayView<BFloat16> dk, ArrayView<BFloat16> dv, ArrayView<float> workspace, AttentionShape shape, DeviceAttentionMask? mask = null)
    {
        Check(accelerator, shape);
        Require(q.Length, shape.QueryElements, "q", shape, "[B, T, H, D]");
        Require(k.Length, shape.KeyValueElements, "k", shape, "[B, T, Hkv, D]");
        Require(v.Length, shape.KeyValueElements, "v", shape, "[B, T, Hkv, D]");
        Require(output.Length, shape.QueryElements, "output", shape, "[B, T, H, D]");
        Require(outputGradient.Length, shape.QueryElements, "outputGradient", shape, "[B, T, H, D]");
        Require(lse.Length, shape.RowStatistics, "lse", shape, "[B, H, T]");
        Require(dq.Length, shape.QueryElements, "dq", shape, "[B, T, H, D]");
        Require(dk.Length, shape.KeyValueElements, "dk", shape, "[B, T, Hkv, D]");
        Require(dv.Length, shape.KeyValueElements, "dv", shape, "[B, T, Hkv, D]");
        Require(workspace.Length, WorkspaceElements(shape), "workspace", shape, "FlashAttention.WorkspaceElements(shape)");
        CheckMask(accelerator, shape, mask);
        FlashParams p = Params(shape, mask);
        ArrayView<float> dqAccum = workspace.SubView(0, (int)shape.QueryElements), delta = workspace.SubView((int)shape.QueryElements, (int)shape.RowStatistics);
        int rows = (int)(shape.QueryElements / shape.HeadDim);
        accelerator.Launch((Action<ArrayView<uint>, ArrayView<uint>, ArrayView<float>, ArrayView<float>, FlashParams, int>)PrepareKernel,
            KernelConfig.Linear((rows + 127) / 128, 128), output.Cast<uint>(), outputGradient.Cast<uint>(), delta, dqAccum, p, shape.HeadDim);
        var config = new KernelConfig(new Index3D(shape.Sequence / Block, shape.Batch * shape.KvHeads), new Index3D(Threads), BackwardSharedBytes(shape.HeadDim));
        var args = new object[]
        {
            q.Cast<Chunk16>(), k.Cast<Chunk16>(), v.Cast<Chunk16>(), outputGradient.Cast<Chunk16>(), lse, delta, dqAccum, dk.Cast<uint>(), dv.Cast<uint>(),
            mask?.Schedule ?? default, mask?.Documents ?? default, p,
        };
        switch (shape.HeadDim, mask is null)
        {
            case (64, true): LaunchBackward<HeadDim64, DenseSchedule>(accelerator, config, args); break;
            case (64, false): LaunchBackward<HeadDim64, SparseSchedule>(accelerator, config, args); break;
            case (_, true): LaunchBackward<HeadDim128, DenseSchedule>(accelerator, config, args); break;
            default: LaunchBackward<HeadDim128, SparseSchedule>(accelerator, config, args); break;
        }
        int pairs = (int)(shape.QueryElements / 2);
        accelerator.Launch((Action<ArrayView<float>, ArrayView<uint>>)FinishKernel, KernelConfig.Linear((pairs + 255) / 256, 256), dqAccum, dq.Cast<uint>());
    }

    /// <summary>Floating-point operations the mask leaves: 4·D per visible pair forward (Q·Kᵀ and P·V), 10·D backward (the two recomputed, three more products).</summary>
    /// <param name="shape">The sizes, and the window.</param>
    /// <param name="backward">The backward pass instead of the forward.</param>
    /// <param name="mask">The block-sparse mask, if any: its visible pairs instead of the causal ones.</param>
    public static double Flops(AttentionShape shape, bool backward, AttentionMask? mask = null) =>
        (backward ? 10.0 : 4.0) * shape.HeadDim * (mask is null ? shape.VisiblePairs : mask.VisiblePairs(shape.Batch) * shape.Heads);

    private static void Check(Accelerator accelerator, AttentionShape shape)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        shape.Validate();
        if (accelerator.WarpSize != 32)
        {
            throw new ArgumentException($"Flash attention needs warps of 32 lanes; {accelerator.Name} has {accelerator.WarpSize}.", nameof(accelerator));
        }
    }

    private static void Require(long length, long elements, string name, AttentionShape shape, string layout)
    {
        if (length != elements)
        {
            throw new ArgumentException($"{name} has {length} elements; {layout} for {shape} needs {elements}.", name);
        }
    }
}
