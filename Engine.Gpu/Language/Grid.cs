namespace Engine.Gpu;

/// <summary>The grid of groups a kernel runs on: the group's position in it and its extent.</summary>
public static class Grid
{
    /// <summary>Index of the current group in the grid, x.</summary>
    public static int IdxX { [Intrinsic(IntrinsicKind.GridIdxX)] get => KernelContext.Get("Grid.IdxX").GridIdx.X; }

    /// <summary>Index of the current group in the grid, y.</summary>
    public static int IdxY { [Intrinsic(IntrinsicKind.GridIdxY)] get => KernelContext.Get("Grid.IdxY").GridIdx.Y; }

    /// <summary>Index of the current group in the grid, z.</summary>
    public static int IdxZ { [Intrinsic(IntrinsicKind.GridIdxZ)] get => KernelContext.Get("Grid.IdxZ").GridIdx.Z; }

    /// <summary>Number of groups in the grid, x.</summary>
    public static int DimX { [Intrinsic(IntrinsicKind.GridDimX)] get => KernelContext.Get("Grid.DimX").GridDim.X; }

    /// <summary>Number of groups in the grid, y.</summary>
    public static int DimY { [Intrinsic(IntrinsicKind.GridDimY)] get => KernelContext.Get("Grid.DimY").GridDim.Y; }

    /// <summary>Number of groups in the grid, z.</summary>
    public static int DimZ { [Intrinsic(IntrinsicKind.GridDimZ)] get => KernelContext.Get("Grid.DimZ").GridDim.Z; }

    /// <summary>Index of the current group in the grid.</summary>
    public static Index3D Index => new(IdxX, IdxY, IdxZ);

    /// <summary>Number of groups in the grid.</summary>
    public static Index3D Dimension => new(DimX, DimY, DimZ);

    /// <summary>The global index of the current thread: group index times group extent plus thread index.</summary>
    public static Index3D GlobalIndex => new(
        IdxX * Group.DimX + Group.IdxX,
        IdxY * Group.DimY + Group.IdxY,
        IdxZ * Group.DimZ + Group.IdxZ);

    /// <summary>The global x index of the current thread, the common case of a one-dimensional launch.</summary>
    public static int GlobalIndexX => IdxX * Group.DimX + Group.IdxX;

    /// <summary>The total number of threads along x: groups times group extent.</summary>
    public static int GlobalDimX => DimX * Group.DimX;
}
