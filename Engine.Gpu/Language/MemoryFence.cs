namespace Engine.Gpu;

/// <summary>Memory fences: order this thread's memory accesses as seen by other threads at a scope.</summary>
public static class MemoryFence
{
    /// <summary>Orders accesses as seen by the threads of the group (PTX <c>fence.cta</c>).</summary>
    [Intrinsic(IntrinsicKind.FenceGroup)]
    public static void GroupLevel() => Interlocked.MemoryBarrier();

    /// <summary>Orders accesses as seen by all threads of the device (PTX <c>fence.gpu</c>).</summary>
    [Intrinsic(IntrinsicKind.FenceDevice)]
    public static void DeviceLevel() => Interlocked.MemoryBarrier();

    /// <summary>Orders accesses as seen by the device and the host (PTX <c>fence.sys</c>).</summary>
    [Intrinsic(IntrinsicKind.FenceSystem)]
    public static void SystemLevel() => Interlocked.MemoryBarrier();
}
