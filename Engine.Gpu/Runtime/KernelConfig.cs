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

    /// <summary>CUDA's limit on a grid's y and z extents (x goes to 2^31 - 1).</summary>
    public const int MaxGridYZ = 65535;

    /// <summary>CUDA's limit on a group's z extent (x and y go to 1024).</summary>
    public const int MaxGroupZ = 64;

    /// <summary>
    /// Throws when a dimension is not positive, the group is larger than <paramref name="maxGroupSize"/>,
    /// or an extent passes CUDA's own limits. Every accelerator checks CUDA's limits, the CPU interpreter
    /// included, so a launch that a GPU would refuse fails the same way in the tests that have no GPU.
    /// </summary>
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
        if (GridDim.Y > MaxGridYZ || GridDim.Z > MaxGridYZ)
        {
            throw new ArgumentException($"A grid of {GridDim} groups passes CUDA's limit of {MaxGridYZ} along y and z; put the long dimension in x or launch in slices.");
        }
        if (GroupDim.X > 1024 || GroupDim.Y > 1024 || GroupDim.Z > MaxGroupZ)
        {
            throw new ArgumentException($"A group of {GroupDim} threads passes CUDA's per-axis limits (1024 along x and y, {MaxGroupZ} along z).");
        }
        if (DynamicSharedBytes < 0)
        {
            throw new ArgumentException($"Dynamic shared memory must not be negative; got {DynamicSharedBytes} bytes.");
        }
    }
}
