using System.Numerics;
using Engine.Gpu;

namespace Engine.Tests.Gpu;

/// <summary>
/// Third batch of catalogue kernels: generic math through the core library's own implementations
/// (whose IL dispatches with typeof tests and (T)(object) round trips, folded per instantiation).
/// </summary>
public static class CatalogueKernels3
{
    /// <summary>T.CreateTruncating from int and from float: the core library's conversions, per T.</summary>
    [Kernel]
    public static void CreateTruncating<T>(ArrayView<int> ints, ArrayView<float> floats, ArrayView<T> r) where T : unmanaged, INumberBase<T>
    {
        int i = Grid.GlobalIndexX;
        if (i < ints.Length)
        {
            r[2 * i] = T.CreateTruncating(ints[i]);
            r[2 * i + 1] = T.CreateTruncating(floats[i]);
        }
    }

    /// <summary>T.CreateSaturating from long and from double: clamped to T's range, NaN to zero.</summary>
    [Kernel]
    public static void CreateSaturating<T>(ArrayView<long> longs, ArrayView<double> doubles, ArrayView<T> r) where T : unmanaged, INumberBase<T>
    {
        int i = Grid.GlobalIndexX;
        if (i < longs.Length)
        {
            r[2 * i] = T.CreateSaturating(longs[i]);
            r[2 * i + 1] = T.CreateSaturating(doubles[i]);
        }
    }

    /// <summary>A kernel specialised by hand with typeof tests and (T)(object) casts, as generic C# often is.</summary>
    [Kernel]
    public static void TypeDispatch<T>(ArrayView<T> x, ArrayView<float> r) where T : unmanaged
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        T v = x[i];
        if (typeof(T) == typeof(float))
        {
            r[i] = (float)(object)v * 2f;
        }
        else if (typeof(T) == typeof(int))
        {
            r[i] = (int)(object)v + 0.5f;
        }
        else if (typeof(T) != typeof(long))
        {
            r[i] = -1f;
        }
        else
        {
            r[i] = (long)(object)v >> 32;
        }
    }

    /// <summary>A generic sum with T.Zero, T.One, operators and T.Max through INumber.</summary>
    [Kernel]
    public static void GenericNumbers<T>(ArrayView<T> x, ArrayView<T> r) where T : unmanaged, INumber<T>
    {
        int i = Grid.GlobalIndexX;
        if (i < x.Length)
        {
            T sum = T.Zero;
            for (int k = 0; k <= i % 4; k++)
            {
                sum += x[(i + k) % x.Length] + T.One;
            }
            r[2 * i] = sum;
            r[2 * i + 1] = T.Max(T.Abs(x[i]), T.One) * T.CreateTruncating(3);
        }
    }

    /// <summary>Warp.Sum, Max, Min, the two scans and Broadcast, for any numeric T.</summary>
    [Kernel]
    public static void WarpReductions<T>(ArrayView<T> x, ArrayView<T> r) where T : unmanaged, INumber<T>
    {
        int i = Grid.GlobalIndexX;
        T v = x[i];
        r[6 * i] = Warp.Sum(v);
        r[6 * i + 1] = Warp.Max(v);
        r[6 * i + 2] = Warp.Min(v);
        r[6 * i + 3] = Warp.InclusiveScanSum(v);
        r[6 * i + 4] = Warp.ExclusiveScanSum(v);
        r[6 * i + 5] = Warp.Broadcast(v, 3);
    }

    /// <summary>Group.Sum, Max, Min, Broadcast and a user-written reduction (bitwise or) over groups of 96.</summary>
    [Kernel]
    public static void GroupReductions<T>(ArrayView<T> x, ArrayView<uint> bits, ArrayView<T> r, ArrayView<uint> ors) where T : unmanaged, INumber<T>
    {
        int i = Grid.GlobalIndexX;
        T v = x[i];
        r[4 * i] = Group.Sum(v);
        r[4 * i + 1] = Group.Max(v);
        r[4 * i + 2] = Group.Min(v);
        r[4 * i + 3] = Group.Broadcast(v, 5);
        ors[i] = Group.Reduce<uint, OrReduction>(bits[i]);
    }
}

/// <summary>A reduction written by a kernel author: bitwise or.</summary>
public readonly struct OrReduction : IReduction<uint>
{
    public static uint Combine(uint a, uint b) => a | b;
}
