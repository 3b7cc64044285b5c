namespace Engine.Gpu;

/// <summary>The shape of a launch: how many groups, how many threads per group, and dynamic shared memory.</summary>
/// <param name="GridDim">Number of groups along x, y and z.</param>
/// <param name="GroupDim">Number of threads per group along x, y and z.</param>
/// <param name="DynamicSharedBytes">Bytes of shared memory per group for <see cref="SharedMemory.GetDynamic{T}"/>.</param>
public readonly record struct KernelConfig(Index3D GridDim, Index3D GroupDim, int DynamicSharedBytes = 0)
{
    /// <summary>The number of threads in a group.</summary>
    public int GroupSize => (int)GroupDim.Size;

    /// <summary>The number of threads in the launch.</summary>
    public long ThreadCount => GridDim.Size * GroupDim.Size;

    /// <summary>A one-dimensional launch of <paramref name="groups"/> groups of <paramref name="groupSize"/> threads.</summary>
    /// <param name="groups">Number of groups.</param>
    /// <param name="groupSize">Threads per group.</param>
    public static KernelConfig Linear(int groups, int groupSize) => new(new Index3D(groups), new Index3D(groupSize));

    /// <summary>Enough groups of <paramref name="groupSize"/> threads to cover <paramref name="threads"/> threads.</summary>
    /// <param name="threads">Threads needed; the last group may be partly idle.</param>
    /// <param name="groupSize">Threads per group.</param>
    public static KernelConfig Covering(long threads, int groupSize) =>
        Linear((int)((threads + groupSize - 1) / groupSize), groupSize);

    /// <summary>Throws when a dimension is not positive or the group is larger than <paramref name="maxGroupSize"/>.</summary>
    /// <param name="maxGroupSize">The accelerator's largest group.</param>
    public void Validate(int maxGroupSize)
    {
        if (GridDim.X < 1 || GridDim.Y < 1 || GridDim.Z < 1 || GroupDim.X < 1 || GroupDim.Y < 1 || GroupDim.Z < 1)
        {
            throw new ArgumentException($"Launch dimensions must be positive; got grid {GridDim} and group {GroupDim}.");
        }
        if (GroupDim.Size > maxGroupSize)
        {
            throw new ArgumentException($"A group of {GroupDim.Size} threads exceeds the accelerator's limit of {maxGroupSize}.");
        }
        if (DynamicSharedBytes < 0)
        {
            throw new ArgumentException($"Dynamic shared memory must not be negative; got {DynamicSharedBytes} bytes.");
        }
    }
}
