using System.Runtime.CompilerServices;
using Engine.Gpu;

namespace Engine.Tests.Gpu;

/// <summary>A tile shape given by static abstract members of a struct type argument.</summary>
public interface ITileShape
{
    /// <summary>Elements each thread keeps in registers.</summary>
    static abstract int PerThread { get; }

    /// <summary>The stride between a thread's elements.</summary>
    static abstract int Stride { get; }
}

/// <summary>Two elements per thread, stride 1.</summary>
public struct TileTwoByOne : ITileShape
{
    /// <inheritdoc/>
    public static int PerThread => 2;

    /// <inheritdoc/>
    public static int Stride => 1;
}

/// <summary>Eight elements per thread, stride 3.</summary>
public struct TileEightByThree : ITileShape
{
    /// <inheritdoc/>
    public static int PerThread => 8;

    /// <inheritdoc/>
    public static int Stride => 3;
}

/// <summary>Eight floats in registers.</summary>
[InlineArray(8)]
public struct Float8
{
    private float _element;
}

/// <summary>Four longs in registers.</summary>
[InlineArray(4)]
public struct Long4
{
    private long _element;
}

/// <summary>The language subset: generic tiles, register arrays, ref locals, switches, Half.</summary>
public static class LanguageKernels
{
    /// <summary>
    /// Each thread loads <c>T.PerThread</c> elements at stride <c>T.Stride</c> into a register array, runs
    /// a prefix sum over it and writes it back: every loop has a constant trip count after specialisation.
    /// </summary>
    [Kernel]
    public static void TiledPrefix<T>(ArrayView<float> input, ArrayView<float> output) where T : struct, ITileShape
    {
        int i = Grid.GlobalIndexX;
        int n = T.PerThread;
        int baseIndex = i * n * T.Stride;
        if (baseIndex + (n - 1) * T.Stride >= input.Length)
        {
            return;
        }
        Float8 regs = default;
        for (int k = 0; k < n; k++)
        {
            regs[k] = input[baseIndex + k * T.Stride];
        }
        for (int k = 1; k < n; k++)
        {
            regs[k] += regs[k - 1] * 0.5f;
        }
        for (int k = 0; k < n; k++)
        {
            output[baseIndex + k * T.Stride] = regs[n - 1 - k];
        }
    }

    /// <summary>Ref locals: chosen by a condition, into a register array, re-pointed in a loop, ref returns.</summary>
    [Kernel]
    public static void RefLocals(ArrayView<long> a, ArrayView<long> b, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        ref long bigger = ref (a[i] > b[i] ? ref a[i] : ref b[i]);
        bigger += 1;
        Long4 regs = default;
        for (int k = 0; k < 4; k++)
        {
            ref long slot = ref regs[k];
            slot = a[i] * (k + 1) - b[i];
        }
        // A ref return choosing between two locals is a documented gap; between view elements it is a pointer select.
        ref long pick = ref Larger(ref a[i], ref b[i]);
        pick ^= 0x5A5A;
        ref long fixedSlot = ref regs[2];
        fixedSlot ^= pick;
        long total = 0;
        for (int k = 0; k < 4; k++)
        {
            total = total * 31 + regs[k];
        }
        r[i] = total;
    }

    private static ref long Larger(ref long x, ref long y) => ref (x >= y ? ref x : ref y);

    /// <summary>Switch statements and expressions: dense, sparse, relational patterns, on long, with fall-through via goto case.</summary>
    [Kernel]
    public static void Switches(ArrayView<int> a, ArrayView<long> l, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        int x = a[i];
        int dense;
        switch (x & 7)
        {
            case 0: dense = 10; break;
            case 1: dense = x * 2; break;
            case 2:
            case 3: dense = -x; break;
            case 4: dense = 40; goto case 6;
            case 6: dense = 60 + x; break;
            default: dense = 7; break;
        }
        int relational = x switch
        {
            < -100 => 1,
            >= -100 and < 0 => 2,
            0 => 3,
            > 0 and <= 1000 => 4,
            _ => 5,
        };
        int sparse = x switch
        {
            1000 => 1,
            -5 => 2,
            77 => 3,
            int.MaxValue => 4,
            1 << 20 => 5,
            _ => 0,
        };
        long onLong = l[i] switch
        {
            0L => 100,
            -1L => 200,
            long.MinValue => 300,
            (long)int.MaxValue + 1 => 400,
            _ => l[i] % 1000,
        };
        r[i * 4] = dense;
        r[i * 4 + 1] = relational;
        r[i * 4 + 2] = sparse;
        r[i * 4 + 3] = (int)onLong;
    }

    /// <summary>Half from float and double (round to nearest even, overflow to infinity), widening, bit casts, comparisons.</summary>
    [Kernel]
    public static void HalfConversions(ArrayView<float> f, ArrayView<double> d, ArrayView<ushort> bits, ArrayView<float> wide)
    {
        int i = Grid.GlobalIndexX;
        if (i >= f.Length)
        {
            return;
        }
        Half fromFloat = (Half)f[i];
        Half fromDouble = (Half)d[i];
        bits[i * 3] = BitConverter.HalfToUInt16Bits(fromFloat);
        bits[i * 3 + 1] = BitConverter.HalfToUInt16Bits(fromDouble);
        Half back = BitConverter.UInt16BitsToHalf((ushort)(i * 977));
        bits[i * 3 + 2] = BitConverter.HalfToUInt16Bits((Half)((float)back * 2f));
        wide[i * 3] = (float)fromFloat;
        wide[i * 3 + 1] = (float)(double)fromDouble;
        wide[i * 3 + 2] = (float)back;
    }

    /// <summary>Nested generic specialisation: a generic kernel calling a generic helper with its own type argument.</summary>
    [Kernel]
    public static void GenericStrides<T>(ArrayView<int> data) where T : struct, ITileShape
    {
        int i = Grid.GlobalIndexX;
        if (i >= data.Length)
        {
            return;
        }
        data[i] = Weighted<T>(data[i]) + Weighted<TileTwoByOne>(i);
    }

    private static int Weighted<T>(int x) where T : struct, ITileShape => x * T.PerThread + T.Stride;

    /// <summary>Division and remainder by constants of every sign and shape (the GPU lowering may use multiplies and shifts).</summary>
    [Kernel]
    public static void DivisionByConstants(ArrayView<int> x, ArrayView<long> l, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int v = x[i];
        long w = l[i];
        uint u = (uint)v;
        ulong uw = (ulong)w;
        int o = i * 12;
        r[o + 0] = v / 7;
        r[o + 1] = v % 7;
        r[o + 2] = v / -8;
        r[o + 3] = v % 16;
        r[o + 4] = u / 10u;
        r[o + 5] = u % 1024u;
        r[o + 6] = w / 1_000_000_007L;
        r[o + 7] = w % -3L;
        r[o + 8] = (long)(uw / 12345u);
        r[o + 9] = (long)(uw % 65536u);
        r[o + 10] = v / 1;
        r[o + 11] = w / 2;
    }

    /// <summary>A grid-stride loop (the thread count is smaller than the data) with a do-while and continue.</summary>
    [Kernel]
    public static void GridStride(ArrayView<float> x, ArrayView<float> y)
    {
        for (int k = Grid.GlobalIndexX; k < x.Length; k += Grid.GlobalDimX)
        {
            if (x[k] < 0f)
            {
                y[k] = 0f;
                continue;
            }
            float v = x[k];
            int steps = 0;
            do
            {
                v *= 0.5f;
                steps++;
            }
            while (v > 1f && steps < 40);
            y[k] = v + steps;
        }
    }

    /// <summary>64-bit atomics on shared memory, then one thread per group publishes.</summary>
    [Kernel]
    public static void SharedLongAtomics(ArrayView<long> x, ArrayView<long> r)
    {
        ArrayView<long> acc = SharedMemory.Allocate<long>(3);
        int t = Group.IdxX;
        if (t == 0)
        {
            acc[0] = 0;
            acc[1] = long.MaxValue;
            acc[2] = 0;
        }
        Group.Barrier();
        long v = x[Grid.GlobalIndexX];
        Atomic.Add(ref acc[0], v);
        Atomic.Min(ref acc[1], v);
        Atomic.Or(ref acc[2], v);
        Group.Barrier();
        if (t < 3)
        {
            r[Grid.IdxX * 3 + t] = acc[t];
        }
    }

    /// <summary>Unsigned and 64-bit integers to floating point (conv.r.un), and back with saturation.</summary>
    [Kernel]
    public static void UnsignedToFloat(ArrayView<ulong> u, ArrayView<float> f, ArrayView<double> d, ArrayView<ulong> back)
    {
        int i = Grid.GlobalIndexX;
        if (i >= u.Length)
        {
            return;
        }
        ulong v = u[i];
        f[i * 2] = v;
        f[i * 2 + 1] = (uint)v;
        d[i * 2] = v;
        d[i * 2 + 1] = (long)v;
        back[i * 2] = (ulong)d[i * 2];
        back[i * 2 + 1] = (uint)f[i * 2 + 1];
    }

    /// <summary>Generic structs of generic element types swapped through a generic helper.</summary>
    [Kernel]
    public static void GenericPairs<T>(ArrayView<Pair<T>> pairs) where T : unmanaged, System.Numerics.INumber<T>
    {
        int i = Grid.GlobalIndexX;
        if (i >= pairs.Length)
        {
            return;
        }
        Pair<T> p = pairs[i];
        Swap(ref p.First, ref p.Second);
        p.First += p.Second * (T.One + T.One) - T.One; // CreateTruncating needs typeof() folding, a documented gap.
        pairs[i] = p;
    }

    private static void Swap<T>(ref T a, ref T b) => (a, b) = (b, a);

    /// <summary>3D grids and groups: every index and dimension, linear indices, warp indices, Index3D structs.</summary>
    [Kernel]
    public static void Grid3D(ArrayView<int> r)
    {
        Index3D g = Grid.Index;
        Index3D t = Group.Index;
        int linearGroup = g.X + Grid.DimX * (g.Y + Grid.DimY * g.Z);
        int global = linearGroup * Group.Size + Group.LinearIndex;
        int o = global * 6;
        r[o + 0] = g.X * 100 + g.Y * 10 + g.Z;
        r[o + 1] = t.X * 100 + t.Y * 10 + t.Z;
        r[o + 2] = Group.Dimension.X * 100 + Group.DimY * 10 + Group.DimZ;
        r[o + 3] = Grid.Dimension.X * 100 + Grid.DimY * 10 + Grid.DimZ;
        r[o + 4] = Warp.WarpIdx * 1000 + Warp.LaneIdx;
        r[o + 5] = Grid.GlobalIndex.X + Grid.GlobalIndex.Y * 1000 + Grid.GlobalIndex.Z * 1000000;
    }

    /// <summary>Half values through shared memory and shuffles, widened for arithmetic.</summary>
    [Kernel]
    public static void HalfShared(ArrayView<Half> x, ArrayView<Half> r)
    {
        ArrayView<Half> tile = SharedMemory.Allocate<Half>(32);
        int t = Group.IdxX;
        tile[t] = x[Grid.GlobalIndexX];
        Group.Barrier();
        Half mine = tile[(t + 7) & 31];
        Half other = Warp.ShuffleDown(mine, 1);
        r[Grid.GlobalIndexX] = (Half)((float)mine - (float)other * 0.25f);
    }

    /// <summary>Dynamic shared memory viewed as a struct type, filled and read back in another order.</summary>
    [Kernel]
    public static void DynamicSharedStructs(ArrayView<Pair<int>> input, ArrayView<Pair<int>> output)
    {
        ArrayView<Pair<int>> tile = SharedMemory.GetDynamic<Pair<int>>();
        int t = Group.IdxX;
        Pair<int> p = input[Grid.GlobalIndexX];
        tile[t] = new Pair<int> { First = p.Second, Second = p.First + tile.Length };
        Group.Barrier();
        output[Grid.GlobalIndexX] = tile[(t * 5) % Group.DimX];
    }

    /// <summary>A register array of structs, indexed by constants and by a run-time value, inside an unrolled loop.</summary>
    [Kernel]
    public static void StructRegisterArray(ArrayView<Vec2> points, ArrayView<int> picks, ArrayView<Vec2> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= picks.Length)
        {
            return;
        }
        Vec2Triple regs = default;
        for (int k = 0; k < 3; k++)
        {
            regs[k] = points[i * 3 + k];
        }
        ref Vec2 chosen = ref regs[picks[i] & 1];
        chosen.X += 100f;
        regs[2].Y = regs[0].X * regs[1].Y;
        Vec2 sum = default;
        for (int k = 0; k < 3; k++)
        {
            sum.X += regs[k].X;
            sum.Y += regs[k].Y;
        }
        r[i] = sum;
    }

    /// <summary>Exact float adds (small integers) and an int counter in shared memory, per group.</summary>
    [Kernel]
    public static void SharedFloatAtomics(ArrayView<int> x, ArrayView<float> sums, ArrayView<int> counts)
    {
        ArrayView<float> acc = SharedMemory.Allocate<float>(1);
        ArrayView<int> count = SharedMemory.Allocate<int>(1);
        if (Group.IdxX == 0)
        {
            acc[0] = 0f;
            count[0] = 0;
        }
        Group.Barrier();
        int v = x[Grid.GlobalIndexX];
        Atomic.Add(ref acc[0], (float)(v % 100));
        if (v > 0)
        {
            Atomic.Add(ref count[0], 1);
        }
        Group.Barrier();
        if (Group.IdxX == 0)
        {
            sums[Grid.IdxX] = acc[0];
            counts[Grid.IdxX] = count[0];
        }
    }
}

/// <summary>Three 2D points in registers.</summary>
[InlineArray(3)]
public struct Vec2Triple
{
    private Vec2 _element;
}
