using System.Numerics;
using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Tests.Gpu;

/// <summary>
/// Atomics of every width and operation, shuffles at computed distances, fences, and bf16 views. Atomic
/// results are written only where they do not depend on the order threads run in (final values of
/// commutative updates, or uncontended slots), so the CLR and the accelerator must agree exactly.
/// </summary>
public static class IntrinsicKernels
{
    /// <summary>Contended commutative atomics on long and ulong: add, min, max, and, or, xor.</summary>
    [Kernel]
    public static void LongAtomics(ArrayView<long> x, ArrayView<long> acc, ArrayView<ulong> uacc)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long v = x[i];
        Atomic.Add(ref acc[0], v >> 8);
        Atomic.Min(ref acc[1], v);
        Atomic.Max(ref acc[2], v);
        Atomic.And(ref acc[3], v | (1L << (i & 63)));
        Atomic.Or(ref acc[4], v & (0xFFL << (8 * (i & 7))));
        Atomic.Xor(ref acc[5], v);
        ulong u = (ulong)v;
        Atomic.Add(ref uacc[0], u >> 3);
        Atomic.Min(ref uacc[1], u);
        Atomic.Max(ref uacc[2], u);
    }

    /// <summary>Contended min/max on int, uint and float (NaN-ignoring), and exact float/double adds of small integers.</summary>
    [Kernel]
    public static void MinMaxAtomics(ArrayView<int> x, ArrayView<float> f, ArrayView<int> ints, ArrayView<uint> uints, ArrayView<float> floats, ArrayView<double> doubles)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int v = x[i];
        Atomic.Min(ref ints[0], v);
        Atomic.Max(ref ints[1], v);
        Atomic.Min(ref uints[0], (uint)v);
        Atomic.Max(ref uints[1], (uint)v);
        Atomic.And(ref uints[2], (uint)v | 0x8000_0001u);
        Atomic.Or(ref uints[3], (uint)v & 0x0F0F_0F0Fu);
        Atomic.Xor(ref uints[4], (uint)v);
        Atomic.Min(ref floats[0], f[i]);
        Atomic.Max(ref floats[1], f[i]);
        // Sums of small integers are exact in any order.
        Atomic.Add(ref floats[2], (float)(v & 255));
        Atomic.Add(ref doubles[0], (double)(v & 0xFFFF));
    }

    /// <summary>Uncontended exchange and compare-exchange on every type: the old values are deterministic.</summary>
    [Kernel]
    public static void ExchangeEveryType(ArrayView<int> ints, ArrayView<uint> uints, ArrayView<long> longs, ArrayView<ulong> ulongs,
        ArrayView<float> floats, ArrayView<double> doubles, ArrayView<long> old)
    {
        int i = Grid.GlobalIndexX;
        if (i >= ints.Length)
        {
            return;
        }
        int o = i * 12;
        old[o + 0] = Atomic.Exchange(ref ints[i], i * 7);
        old[o + 1] = Atomic.CompareExchange(ref ints[i], i * 7, -i); // Succeeds.
        old[o + 2] = Atomic.CompareExchange(ref ints[i], 12345, 0);  // Fails unless -i happens to be 12345.
        old[o + 3] = Atomic.Exchange(ref uints[i], (uint)i * 3u);
        old[o + 4] = Atomic.CompareExchange(ref uints[i], (uint)(i & 1) * 3u * (uint)i, 99u); // Succeeds for odd i only.
        old[o + 5] = Atomic.Exchange(ref longs[i], (long)i << 40);
        old[o + 6] = Atomic.CompareExchange(ref longs[i], (long)i << 40, long.MinValue + i);
        old[o + 7] = (long)Atomic.Exchange(ref ulongs[i], ulong.MaxValue - (ulong)i);
        old[o + 8] = (long)Atomic.CompareExchange(ref ulongs[i], 5ul, 6ul);
        old[o + 9] = BitConverter.SingleToInt32Bits(Atomic.Exchange(ref floats[i], i * 0.5f));
        old[o + 10] = BitConverter.SingleToInt32Bits(Atomic.CompareExchange(ref floats[i], i * 0.5f, -1.5f));
        old[o + 11] = BitConverter.DoubleToInt64Bits(Atomic.CompareExchange(ref doubles[i], doubles[i], Atomic.Exchange(ref doubles[i], i * 0.25) + 1.0));
    }

    /// <summary>A compare-exchange loop building an atomic operation the hardware lacks (a product of powers of two: exact in any order).</summary>
    [Kernel]
    public static void CompareExchangeLoops(ArrayView<int> x, ArrayView<long> product, ArrayView<float> fmax, ArrayView<uint> bits)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long factor = (x[i] & 1) == 0 ? 1 : 2;
        long seen = product[0];
        while (true)
        {
            long previous = Atomic.CompareExchange(ref product[0], seen, seen * factor);
            if (previous == seen)
            {
                break;
            }
            seen = previous;
        }
        float candidate = x[i] * 0.125f;
        float current = fmax[0];
        while (candidate > current)
        {
            float previous = Atomic.CompareExchange(ref fmax[0], current, candidate);
            if (BitConverter.SingleToInt32Bits(previous) == BitConverter.SingleToInt32Bits(current))
            {
                break;
            }
            current = previous;
        }
        uint mask = 1u << (x[i] & 31);
        uint old = bits[0];
        while (true)
        {
            uint previous = Atomic.CompareExchange(ref bits[0], old, old | mask);
            if (previous == old)
            {
                break;
            }
            old = previous;
        }
    }

    /// <summary>Shuffles at computed distances, including sources outside the warp (the caller keeps its own value).</summary>
    [Kernel]
    public static void ShuffleDistances(ArrayView<float> f, ArrayView<long> l, ArrayView<float> r, ArrayView<long> rl, int delta)
    {
        int i = Grid.GlobalIndexX;
        int lane = Warp.LaneIdx;
        int w = Warp.WarpSize;
        float x = f[i];
        long y = l[i];
        int o = i * 6;
        r[o + 0] = Warp.ShuffleDown(x, delta);
        r[o + 1] = Warp.ShuffleUp(x, delta + 1);
        r[o + 2] = Warp.Shuffle(x, (lane * 3 + 1) & (w - 1));
        r[o + 3] = Warp.Shuffle(x, lane + w);              // Out of range: own value.
        r[o + 4] = Warp.ShuffleXor(x, (w / 2) | 1);
        r[o + 5] = Warp.Shuffle(x, w - 1 - lane);
        rl[i * 3 + 0] = Warp.ShuffleDown(y, lane & 3);      // A per-lane distance.
        rl[i * 3 + 1] = Warp.ShuffleUp(y, 1);
        rl[i * 3 + 2] = Warp.Shuffle(y, 0) ^ Warp.Shuffle(y, w - 1);
    }

    /// <summary>A segmented scan over sub-warps of width 4 built from masked shuffles, and a ballot-based popcount.</summary>
    [Kernel]
    public static void SubWarpScan(ArrayView<int> x, ArrayView<int> scan, ArrayView<int> counts)
    {
        int i = Grid.GlobalIndexX;
        int lane = Warp.LaneIdx;
        int v = x[i];
        int sub = lane & 3;
        for (int d = 1; d < 4; d *= 2)
        {
            int other = Warp.Shuffle(v, lane - d);
            if (sub >= d)
            {
                v += other;
            }
        }
        scan[i] = v;
        uint ballot = Warp.Ballot((x[i] & 1) != 0);
        counts[i] = BitOperations.PopCount(ballot) * 100 + BitOperations.PopCount(ballot & ((1u << lane) - 1));
    }

    /// <summary>Shuffles within segments of <paramref name="width"/> lanes (idx, down, up, xor), 32- and 64-bit values.</summary>
    [Kernel]
    public static void ShuffleWidths(ArrayView<int> x, ArrayView<long> r, int width)
    {
        int i = Grid.GlobalIndexX;
        int v = x[i];
        int o = i * 6;
        r[o + 5] = Warp.WarpSize; // For the independent check, which must know the segment size.
        r[o + 0] = Warp.Shuffle(v, 5, width);
        r[o + 1] = Warp.ShuffleDown(v, 3, width);
        r[o + 2] = Warp.ShuffleUp(v, 2, width);
        r[o + 3] = Warp.ShuffleXor(v, 6, width);
        r[o + 4] = Warp.ShuffleDown((long)v << 20, 1, width);
    }

    /// <summary>Bit counts on every width (popc, clz, and trailing zeros through brev + clz), zero included.</summary>
    [Kernel]
    public static void BitCounts(ArrayView<int> x, ArrayView<long> l, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int o = i * 9;
        r[o + 0] = BitOperations.PopCount((uint)x[i]);
        r[o + 1] = BitOperations.PopCount((ulong)l[i]);
        r[o + 2] = BitOperations.LeadingZeroCount((uint)x[i]);
        r[o + 3] = BitOperations.LeadingZeroCount((ulong)l[i]);
        r[o + 4] = BitOperations.TrailingZeroCount(x[i]);
        r[o + 5] = BitOperations.TrailingZeroCount((uint)x[i]);
        r[o + 6] = BitOperations.TrailingZeroCount(l[i]);
        r[o + 7] = BitOperations.TrailingZeroCount((ulong)l[i]);
        r[o + 8] = BitOperations.PopCount(0x0F0Fu) + BitOperations.LeadingZeroCount(1ul); // Folded at compile time.
    }

    /// <summary>Fences of every scope between ordered writes (the writes and values are checked; the ordering needs a GPU).</summary>
    [Kernel]
    public static void Fences(ArrayView<int> data, ArrayView<int> flags)
    {
        int i = Grid.GlobalIndexX;
        if (i >= data.Length)
        {
            return;
        }
        data[i] = i * 3;
        MemoryFence.GroupLevel();
        data[i] += 1;
        MemoryFence.DeviceLevel();
        flags[i] = data[i];
        MemoryFence.SystemLevel();
        Atomic.Add(ref flags[data.Length], 1);
    }

    /// <summary>bf16 views: loads, widening, rounding stores, and arithmetic through float.</summary>
    [Kernel]
    public static void BFloat16Views(ArrayView<BFloat16> x, ArrayView<BFloat16> y, ArrayView<float> wide, ArrayView<BFloat16> sum, ArrayView<ushort> bits)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        float a = x[i];
        float b = y[i];
        wide[i * 2] = a;
        wide[i * 2 + 1] = (float)(double)y[i];
        sum[i] = (BFloat16)(a + b);
        // NaN payloads are the CLR's to choose, so NaN results are stored as one canonical pattern.
        float product = a * b;
        bits[i * 3] = float.IsNaN(product) ? (ushort)0x7FC0 : ((BFloat16)product).RawValue;
        bits[i * 3 + 1] = float.IsNaN(a) ? (ushort)0x7FC0 : ((BFloat16)((double)a / 3.0)).ToBits();
        bits[i * 3 + 2] = (ushort)(BFloat16.IsNaN(x[i]) ? 1 : BFloat16.IsInfinity(x[i]) ? 2 : BFloat16.IsFinite(x[i]) ? 3 : 4);
    }

    /// <summary>bf16 elements of shared memory and bf16 values through shuffles.</summary>
    [Kernel]
    public static void BFloat16Shared(ArrayView<BFloat16> x, ArrayView<BFloat16> r)
    {
        ArrayView<BFloat16> tile = SharedMemory.Allocate<BFloat16>(64);
        int t = Group.IdxX;
        int i = Grid.GlobalIndexX;
        tile[t] = x[i];
        Group.Barrier();
        BFloat16 mirrored = tile[Group.DimX - 1 - t];
        BFloat16 neighbour = Warp.ShuffleXor(mirrored, 1);
        r[i] = (BFloat16)(mirrored * 0.5f + neighbour);
    }
}
