namespace Engine.Gpu;

/// <summary>
/// Asynchronous copies from global to shared memory (PTX <c>cp.async</c>, sm_80+), the building block of
/// multi-stage pipelines: issue copies, <see cref="Commit"/> them as a group, and <see cref="Wait"/>
/// until few enough groups are pending before reading the data (then <see cref="Group.Barrier"/>, so
/// other threads' copies are visible too).
/// </summary>
/// <remarks>CPU meaning: the copy happens at once, so waiting has nothing left to do.</remarks>
public static class AsyncCopy
{
    /// <summary>Copies one value of 4, 8 or 16 bytes from global memory to shared memory.</summary>
    /// <typeparam name="T">A type of 4, 8 or 16 bytes (e.g. float, a struct of four floats).</typeparam>
    /// <param name="sharedDestination">An element of a shared-memory view.</param>
    /// <param name="globalSource">An element of a global-memory view.</param>
    [Intrinsic(IntrinsicKind.CopyAsync)]
    public static void Copy<T>(ref T sharedDestination, ref T globalSource) where T : unmanaged => sharedDestination = globalSource;

    /// <summary>Closes the group of copies this thread has issued since the last commit.</summary>
    [Intrinsic(IntrinsicKind.CopyAsyncCommit)]
    public static void Commit()
    {
    }

    /// <summary>Waits until at most <paramref name="pendingGroups"/> (a constant, 0 to 7) committed groups are still in flight.</summary>
    /// <param name="pendingGroups">How many of the most recent groups may still be pending.</param>
    [Intrinsic(IntrinsicKind.CopyAsyncWait)]
    public static void Wait(int pendingGroups)
    {
        _ = pendingGroups;
    }
}
