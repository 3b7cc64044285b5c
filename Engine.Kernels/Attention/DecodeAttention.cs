using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>
/// Attention for generation with a KV cache: one new query per sequence against the keys and values
/// cached so far (the prefill runs <see cref="FlashAttention.Forward"/>). Decoding reads the whole
/// cache for a handful of FLOPs, so the kernel is built for bandwidth: one group per (sequence, head),
/// its warps taking keys in turn; a warp reads a key row with all 32 lanes (coalesced, D/32 values a
/// lane), reduces the dot product with shuffles and keeps an online softmax; the warps' partial results
/// are combined in shared memory at the end.
/// </summary>
public static class DecodeAttention
{
    private const int Warps = 4;
    private const float Log2E = 1.44269504088896341f;

    [Kernel]
    internal static void DecodeKernel<THead>(ArrayView<uint> q, ArrayView<uint> kCache, ArrayView<uint> vCache, ArrayView<uint> output, ArrayView<int> lengths,
        int capacity, int heads, int kvHeads, int window, float scaleLog2)
        where THead : struct, IHeadDim
    {
        ArrayView<float> partialMax = SharedMemory.Allocate<float>(Warps);
        ArrayView<float> partialSum = SharedMemory.Allocate<float>(Warps);
        ArrayView<float> partialOut = SharedMemory.Allocate<float>(Warps * 128);
        int bh = Grid.IdxX, batch = bh / heads, head = bh - batch * heads;
        int kvHead = head / (heads / kvHeads);
        int lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int pairs = THead.Dim / 64; // bf16 pairs per lane: 1 (D = 64) or 2 (D = 128)
        int half = THead.Dim / 2;   // pairs per row
        int length = lengths[batch];
        int first = window > 0 ? Math.Max(0, length - 1 - window) : 0;

        // This lane's share of the query: pairs lane, lane + 32.
        float q0 = 0f, q1 = 0f, q2 = 0f, q3 = 0f;
        int qRow = (batch * heads + head) * half;
        uint qa = q[qRow + lane];
        q0 = TensorCore.UnpackBFloat16(qa, false);
        q1 = TensorCore.UnpackBFloat16(qa, true);
        if (pairs == 2)
        {
            uint qb = q[qRow + 32 + lane];
            q2 = TensorCore.UnpackBFloat16(qb, false);
            q3 = TensorCore.UnpackBFloat16(qb, true);
        }

        float max = float.NegativeInfinity, sum = 0f, o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f;
        for (int key = first + warp; key < length; key += Warps)
        {
            int row = ((batch * capacity + key) * kvHeads + kvHead) * half;
            uint ka = kCache[row + lane], va = vCache[row + lane];
            float dot = q0 * TensorCore.UnpackBFloat16(ka, false) + q1 * TensorCore.UnpackBFloat16(ka, true);
            float v0 = TensorCore.UnpackBFloat16(va, false), v1 = TensorCore.UnpackBFloat16(va, true), v2 = 0f, v3 = 0f;
            if (pairs == 2)
            {
                uint kb = kCache[row + 32 + lane], vb = vCache[row + 32 + lane];
                dot += q2 * TensorCore.UnpackBFloat16(kb, false) + q3 * TensorCore.UnpackBFloat16(kb, true);
                v2 = TensorCore.UnpackBFloat16(vb, false);
                v3 = TensorCore.UnpackBFloat16(vb, true);
            }
            for (int offset = 16; offset > 0; offset /= 2)
            {
                dot += Warp.ShuffleXor(dot, offset);
            }
            float s = dot * scaleLog2; // log2 units
            float newMax = FastMath.Max(max, s);
            float alpha = FastMath.Ex2(max - newMax), p = FastMath.Ex2(s - newMax);
            sum = sum * alpha + p;
            o0 = o0 * alpha + p * v0;
            o1 = o1 * alpha + p * v1;
            o2 = o2 * alpha + p * v2;
            o3 = o3 * alpha + p * v3;
            max = newMax;
        }

        // Combine the warps: each rescales to the common max.
        if (lane == 0)
        {
            partialMax[warp] = max;
            partialSum[warp] = sum;
        }
        partialOut[warp * 128 + 2 * lane] = o0;
        partialOut[warp * 128 + 2 * lane + 1] = o1;
        partialOut[warp * 128 + 64 + 2 * lane] = o2;
        partialOut[warp * 128 + 64 + 2 * lane + 1] = o3;
        Group.Barrier();
        if (warp == 0)
        {
            float m = float.NegativeInfinity;
            for (int w = 0; w < Warps; w++)
            {
                m = FastMath.Max(m, partialMax[w]);
            }
            float total = 0f, r0 = 0f, r1 = 0f, r2 = 0f, r3 = 0f;
            for (int w = 0; w < Warps; w++)
            {
                // A warp that saw no key (a short cache) has max −∞ and adds nothing.
                float f = partialMax[w] == float.NegativeInfinity ? 0f : FastMath.Ex2(partialMax[w] - m);
                total += partialSum[w] * f;
                r0 += partialOut[w * 128 + 2 * lane] * f;
                r1 += partialOut[w * 128 + 2 * lane + 1] * f;
                r2 += partialOut[w * 128 + 64 + 2 * lane] * f;
                r3 += partialOut[w * 128 + 64 + 2 * lane + 1] * f;
            }
            float inverse = 1f / total;
            output[qRow + lane] = TensorCore.PackBFloat162(r0 * inverse, r1 * inverse);
            if (pairs == 2)
            {
                output[qRow + 32 + lane] = TensorCore.PackBFloat162(r2 * inverse, r3 * inverse);
            }
        }
    }

    /// <summary>
    /// output[b, h] = softmax(q[b, h]·K[b]ᵀ/√D)·V[b] over the first lengths[b] cached positions (the query
    /// is the token at position lengths[b] − 1, already written to the cache), or only the last
    /// <paramref name="window"/> + 1 of them. Grouped-query heads read their key/value head.
    /// </summary>
    /// <param name="accelerator">A CUDA GPU, or the CPU accelerator at warp size 32.</param>
    /// <param name="q">[B, H, D] queries, one per sequence.</param>
    /// <param name="kCache">[B, capacity, Hkv, D] cached keys.</param>
    /// <param name="vCache">[B, capacity, Hkv, D] cached values.</param>
    /// <param name="output">Written: [B, H, D].</param>
    /// <param name="lengths">[B] valid cached positions per sequence (1..capacity).</param>
    /// <param name="heads">H.</param>
    /// <param name="kvHeads">Hkv, dividing H.</param>
    /// <param name="headDim">D: 64 or 128.</param>
    /// <param name="window">0 for full causal attention, else how far back the query sees.</param>
    public static void Decode(Accelerator accelerator, ArrayView<BFloat16> q, ArrayView<BFloat16> kCache, ArrayView<BFloat16> vCache, ArrayView<BFloat16> output,
        ArrayView<int> lengths, int heads, int kvHeads, int headDim, int window = 0)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        int batch = lengths.Length;
        if (headDim is not (64 or 128) || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || batch == 0 || window < 0)
        {
            throw new ArgumentException($"Decode attention with H={heads}, Hkv={kvHeads}, D={headDim}, window {window}, batch {batch}: D must be 64 or 128, H a multiple of Hkv, the batch non-empty and the window 0 or positive.");
        }
        if (accelerator.WarpSize != 32)
        {
            throw new ArgumentException($"Decode attention needs warps of 32 lanes; {accelerator.Name} has {accelerator.WarpSize}.", nameof(accelerator));
        }
        long queries = (long)batch * heads * headDim;
        if (q.Length != queries || output.Length != queries)
        {
            throw new ArgumentException($"q has {q.Length} and output {output.Length} values; [B={batch}, H={heads}, D={headDim}] needs {queries}.", nameof(q));
        }
        long perPosition = (long)batch * kvHeads * headDim;
        if (kCache.Length == 0 || kCache.Length % perPosition != 0 || vCache.Length != kCache.Length)
        {
            throw new ArgumentException($"kCache has {kCache.Length} and vCache {vCache.Length} values; [B={batch}, capacity, Hkv={kvHeads}, D={headDim}] needs the same multiple of {perPosition}.", nameof(kCache));
        }
        int capacity = (int)(kCache.Length / perPosition);
        float scaleLog2 = Log2E / MathF.Sqrt(headDim);
        var config = KernelConfig.Linear(batch * heads, Warps * 32);
        var args = new object[] { q.Cast<uint>(), kCache.Cast<uint>(), vCache.Cast<uint>(), output.Cast<uint>(), lengths, capacity, heads, kvHeads, window, scaleLog2 };
        // Lengths live on the device; a length outside 1..capacity reads past the cache (bounds-checked on the CPU accelerator).
        if (headDim == 64)
        {
            accelerator.Launch((Action<ArrayView<uint>, ArrayView<uint>, ArrayView<uint>, ArrayView<uint>, ArrayView<int>, int, int, int, int, float>)DecodeKernel<HeadDim64>, config, args);
        }
        else
        {
            accelerator.Launch((Action<ArrayView<uint>, ArrayView<uint>, ArrayView<uint>, ArrayView<uint>, ArrayView<int>, int, int, int, int, float>)DecodeKernel<HeadDim128>, config, args);
        }
    }

    /// <summary>Bytes a decode step must read at the least: the cached keys and values it attends to, and q and the output.</summary>
    /// <param name="batch">B.</param>
    /// <param name="heads">H.</param>
    /// <param name="kvHeads">Hkv.</param>
    /// <param name="headDim">D.</param>
    /// <param name="positions">Cached positions attended per sequence.</param>
    public static long BytesMoved(int batch, int heads, int kvHeads, int headDim, int positions) =>
        2L * batch * positions * kvHeads * headDim * 2 + 2L * batch * heads * headDim * 2;
}
