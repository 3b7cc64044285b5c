using Engine.Gpu;

namespace Engine.Tests.Gpu;

/// <summary>Shared memory, barriers, warp shuffles and votes, atomics.</summary>
public static class CollectiveKernels
{
    public const int ReduceGroup = 64;

    [Kernel]
    public static void GroupSum(ArrayView<float> input, ArrayView<float> sums)
    {
        ArrayView<float> shared = SharedMemory.Allocate<float>(ReduceGroup);
        int t = Group.IdxX;
        int i = Grid.GlobalIndexX;
        shared[t] = i < input.Length ? input[i] : 0f;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride /= 2)
        {
            if (t < stride)
            {
                shared[t] += shared[t + stride];
            }
            Group.Barrier();
        }
        if (t == 0)
        {
            sums[Grid.IdxX] = shared[0];
        }
    }

    [Kernel]
    public static void ReverseInGroup(ArrayView<int> data)
    {
        ArrayView<int> tile = SharedMemory.Allocate<int>(128);
        ArrayView<int> scratch = SharedMemory.GetDynamic<int>();
        int t = Group.IdxX;
        int i = Grid.GlobalIndexX;
        tile[t] = data[i];
        scratch[t % scratch.Length] = t;
        Group.Barrier();
        data[i] = tile[Group.DimX - 1 - t] * 1000 + scratch.Length;
    }

    [Kernel]
    public static void TransposeTile(ArrayView<int> input, ArrayView<int> output, int n)
    {
        ArrayView<int> tile = SharedMemory.Allocate<int>(8 * 9);
        int x = Grid.IdxX * 8 + Group.IdxX;
        int y = Grid.IdxY * 8 + Group.IdxY;
        tile[Group.IdxY * 9 + Group.IdxX] = input[y * n + x];
        Group.Barrier();
        int tx = Grid.IdxY * 8 + Group.IdxX;
        int ty = Grid.IdxX * 8 + Group.IdxY;
        output[ty * n + tx] = tile[Group.IdxX * 9 + Group.IdxY];
    }

    [Kernel]
    public static void WarpButterfly(ArrayView<float> input, ArrayView<float> output)
    {
        int i = Grid.GlobalIndexX;
        float v = input[i];
        for (int mask = Warp.WarpSize / 2; mask > 0; mask /= 2)
        {
            v += Warp.ShuffleXor(v, mask);
        }
        output[i] = v;
    }

    [Kernel]
    public static void WarpDownAndUp(ArrayView<int> input, ArrayView<int> down, ArrayView<int> scan, ArrayView<int> raw)
    {
        int i = Grid.GlobalIndexX;
        int v = input[i];
        // Sources past either end of the warp return the caller's own value.
        raw[3 * i] = Warp.ShuffleDown(v, 3);
        raw[3 * i + 1] = Warp.ShuffleUp(v, 2);
        raw[3 * i + 2] = Warp.ShuffleXor(v, 5);
        int sum = v;
        for (int delta = Warp.WarpSize / 2; delta > 0; delta /= 2)
        {
            sum += Warp.ShuffleDown(sum, delta);
        }
        down[i] = Warp.LaneIdx == 0 ? sum : -1;
        int prefix = v;
        for (int delta = 1; delta < Warp.WarpSize; delta *= 2)
        {
            int other = Warp.ShuffleUp(prefix, delta);
            if (Warp.LaneIdx >= delta)
            {
                prefix += other;
            }
        }
        scan[i] = prefix;
    }

    [Kernel]
    public static void WarpBroadcast(ArrayView<double> d, ArrayView<long> l, ArrayView<Vec2> v)
    {
        int i = Grid.GlobalIndexX;
        int lane = Warp.LaneIdx;
        double first = Warp.Shuffle(d[i], 0);
        long mirrored = Warp.Shuffle(l[i], Warp.WarpSize - 1 - lane);
        Vec2 next = Warp.Shuffle(v[i], lane + 1);
        Warp.Barrier();
        d[i] = first + Warp.WarpIdx;
        l[i] = mirrored;
        v[i] = next;
    }

    [Kernel]
    public static void Votes(ArrayView<int> input, ArrayView<int> output)
    {
        int i = Grid.GlobalIndexX;
        int x = input[i];
        bool all = Warp.All(x > 0);
        bool any = Warp.Any(x < 0);
        uint ballot = Warp.Ballot((x & 1) == 1);
        output[i] = (all ? 1 : 0) + (any ? 2 : 0) + (int)(ballot << 2);
    }

    [Kernel]
    public static void Histogram(ArrayView<int> values, ArrayView<int> bins, ArrayView<float> total, ArrayView<uint> extremes)
    {
        int i = Grid.GlobalIndexX;
        if (i >= values.Length)
        {
            return;
        }
        int v = values[i];
        Atomic.Add(ref bins[(v & 0x7fffffff) % bins.Length], 1);
        Atomic.Add(ref total[0], v * 0.001f);
        Atomic.Min(ref extremes[0], (uint)v);
        Atomic.Max(ref extremes[1], (uint)v);
        Atomic.Xor(ref extremes[2], (uint)v);
    }

    [Kernel]
    public static void AtomicClaims(ArrayView<int> slots, ArrayView<int> owners, ArrayView<float> best, ArrayView<long> counter)
    {
        int i = Grid.GlobalIndexX;
        if (i >= owners.Length)
        {
            return;
        }
        int slot = i % slots.Length;
        int previous = Atomic.CompareExchange(ref slots[slot], 0, i + 1);
        owners[i] = previous;
        int old = Atomic.Exchange(ref owners[(i + 1) % owners.Length], -i);
        Atomic.Max(ref best[0], i * 0.5f - old);
        Atomic.Min(ref best[1], -i * 0.25f);
        Atomic.Add(ref counter[0], (long)i << 33);
    }

    [Kernel]
    public static void SharedHistogram(ArrayView<int> values, ArrayView<int> bins)
    {
        ArrayView<int> local = SharedMemory.Allocate<int>(16);
        int t = Group.IdxX;
        if (t < 16)
        {
            local[t] = 0;
        }
        Group.Barrier();
        int i = Grid.GlobalIndexX;
        if (i < values.Length)
        {
            Atomic.Add(ref local[values[i] & 15], 1);
        }
        Group.Barrier();
        if (t < 16)
        {
            Atomic.Add(ref bins[t], local[t]);
        }
        MemoryFence.DeviceLevel();
    }
}
