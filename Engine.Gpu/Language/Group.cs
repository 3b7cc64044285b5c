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
}
