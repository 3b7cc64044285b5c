using System.Numerics;

namespace Engine.Gpu;

/// <summary>The group (CUDA block) of the current thread: its position in the group and the group's barrier.</summary>
public static class Group
{
    /// <summary>Index of the current thread in its group, x.</summary>
    public static int IdxX { [Intrinsic(IntrinsicKind.GroupIdxX)] get => KernelContext.Get("Group.IdxX").GroupIdx.X; }

    /// <summary>Index of the current thread in its group, y.</summary>
    public static int IdxY { [Intrinsic(IntrinsicKind.GroupIdxY)] get => KernelContext.Get("Group.IdxY").GroupIdx.Y; }

    /// <summary>Index of the current thread in its group, z.</summary>
    public static int IdxZ { [Intrinsic(IntrinsicKind.GroupIdxZ)] get => KernelContext.Get("Group.IdxZ").GroupIdx.Z; }

    /// <summary>Number of threads in a group, x.</summary>
    public static int DimX { [Intrinsic(IntrinsicKind.GroupDimX)] get => KernelContext.Get("Group.DimX").GroupDim.X; }

    /// <summary>Number of threads in a group, y.</summary>
    public static int DimY { [Intrinsic(IntrinsicKind.GroupDimY)] get => KernelContext.Get("Group.DimY").GroupDim.Y; }

    /// <summary>Number of threads in a group, z.</summary>
    public static int DimZ { [Intrinsic(IntrinsicKind.GroupDimZ)] get => KernelContext.Get("Group.DimZ").GroupDim.Z; }

    /// <summary>Index of the current thread in its group.</summary>
    public static Index3D Index => new(IdxX, IdxY, IdxZ);

    /// <summary>Number of threads in a group.</summary>
    public static Index3D Dimension => new(DimX, DimY, DimZ);

    /// <summary>The thread's index in its group, flattened with x fastest.</summary>
    public static int LinearIndex => IdxX + DimX * (IdxY + DimY * IdxZ);

    /// <summary>The number of threads in a group.</summary>
    public static int Size => DimX * DimY * DimZ;

    /// <summary>
    /// Waits until every thread of the group has arrived, and makes every thread's earlier shared and
    /// global memory writes visible to the group. Every thread of the group must reach the same barrier;
    /// the CPU accelerator reports a divergent barrier as an error.
    /// </summary>
    [Intrinsic(IntrinsicKind.GroupBarrier)]
    public static void Barrier() => KernelContext.Get("Group.Barrier").GroupBarrier();

    // Reductions over the group: library code (ILGPU.Algorithms' group extensions). Each warp reduces with
    // shuffles, one lane a warp writes its result to shared memory, and after a barrier every thread adds
    // the warps' results in warp order (a fixed order, so floating-point results agree everywhere); a
    // second barrier lets the next call reuse nothing stale. Every thread of the group must call them.
    // Each call site is its own 256-element shared array: groups of up to 256 warps (1024 threads at a
    // warp size of 4 or more).

    private const int MaxWarps = 256;

    /// <summary><paramref name="value"/> combined over the group with <typeparamref name="TReduction"/>, on every thread.</summary>
    /// <typeparam name="T">The values combined.</typeparam>
    /// <typeparam name="TReduction">The associative operation.</typeparam>
    /// <param name="value">This thread's contribution.</param>
    public static T Reduce<T, TReduction>(T value)
        where T : unmanaged
        where TReduction : struct, IReduction<T>
    {
        ArrayView<T> partial = SharedMemory.Allocate<T>(MaxWarps);
        T warp = Warp.Reduce<T, TReduction>(value);
        if (Warp.LaneIdx == 0)
        {
            partial[Warp.WarpIdx] = warp;
        }
        Barrier();
        T total = partial[0];
        int warps = (Size + Warp.WarpSize - 1) / Warp.WarpSize;
        for (int w = 1; w < warps; w++)
        {
            total = TReduction.Combine(total, partial[w]);
        }
        Barrier();
        return total;
    }

    /// <summary>The sum of <paramref name="value"/> over the group, on every thread.</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This thread's contribution.</param>
    public static T Sum<T>(T value) where T : unmanaged, INumber<T> => Reduce<T, SumReduction<T>>(value);

    /// <summary>The largest <paramref name="value"/> of the group, on every thread (T.Max: a NaN wins).</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This thread's contribution.</param>
    public static T Max<T>(T value) where T : unmanaged, INumber<T> => Reduce<T, MaxReduction<T>>(value);

    /// <summary>The smallest <paramref name="value"/> of the group, on every thread (T.Min: a NaN wins).</summary>
    /// <typeparam name="T">A numeric type.</typeparam>
    /// <param name="value">This thread's contribution.</param>
    public static T Min<T>(T value) where T : unmanaged, INumber<T> => Reduce<T, MinReduction<T>>(value);

    /// <summary>Thread <paramref name="source"/>'s (linear index) <paramref name="value"/>, on every thread of the group.</summary>
    /// <typeparam name="T">Any unmanaged type.</typeparam>
    /// <param name="value">This thread's value.</param>
    /// <param name="source">The linear index of the thread whose value every thread receives.</param>
    public static T Broadcast<T>(T value, int source) where T : unmanaged
    {
        ArrayView<T> slot = SharedMemory.Allocate<T>(1);
        if (LinearIndex == source)
        {
            slot[0] = value;
        }
        Barrier();
        T result = slot[0];
        Barrier();
        return result;
    }
}
