namespace Engine.Gpu;

/// <summary>
/// What a thread of a running kernel sees when its intrinsics execute as plain C#: its indices and the
/// collective operations of its group and warp. One instance per emulated GPU thread, installed in a
/// thread-static slot by <see cref="ClrKernelRunner"/>.
/// </summary>
internal abstract class KernelContext
{
    [ThreadStatic]
    private static KernelContext? current;

    internal static void Install(KernelContext? context) => current = context;

    /// <summary>The context of the calling thread; a clear error when there is none.</summary>
    internal static KernelContext Get(string intrinsic) =>
        current ?? throw new InvalidOperationException(
            $"{intrinsic} was called outside a running kernel. Launch the kernel through an Accelerator " +
            "or ClrKernelRunner; intrinsics have no meaning in ordinary host code.");

    public Index3D GridIdx;
    public Index3D GridDim;
    public Index3D GroupIdx;
    public Index3D GroupDim;
    public int WarpSize;

    public int LinearGroupIdx => GroupIdx.X + GroupDim.X * (GroupIdx.Y + GroupDim.Y * GroupIdx.Z);

    public int LaneIdx => LinearGroupIdx % WarpSize;

    public abstract void GroupBarrier();

    public abstract void WarpBarrier();

    /// <summary>Every lane of the calling warp contributes a value; each receives all of them, by lane.</summary>
    public abstract T[] WarpGather<T>(T value) where T : unmanaged;

    /// <summary>The k-th static allocation of this thread maps to the k-th allocation of its group.</summary>
    public abstract nint SharedAllocate(int bytes);

    public abstract nint DynamicShared(out int bytes);
}

/// <summary>The lane rules of warp collectives, shared by every execution of the kernel language.</summary>
internal static class WarpSemantics
{
    /// <summary>
    /// The lane a shuffle reads from, or the calling lane when the source lies outside the warp (the
    /// PTX shfl.sync clamp rule, with the segment width equal to the warp size).
    /// </summary>
    public static int SourceLane(IntrinsicKind kind, int lane, int argument, int warpSize)
    {
        int source = kind switch
        {
            IntrinsicKind.ShuffleIdx => argument & (warpSize - 1),
            IntrinsicKind.ShuffleDown => lane + argument,
            IntrinsicKind.ShuffleUp => lane - argument,
            IntrinsicKind.ShuffleXor => lane ^ argument,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a shuffle"),
        };
        return source < 0 || source >= warpSize ? lane : source;
    }
}
