namespace Engine.Gpu;

/// <summary>Memory shared by the threads of one group (CUDA <c>__shared__</c>).</summary>
public static class SharedMemory
{
    /// <summary>
    /// An array of <paramref name="length"/> elements shared by the group. The length must be a
    /// compile-time constant. Each call site (after inlining) is one allocation; every thread of the group
    /// sees the same memory. Contents are undefined until written.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="length">The number of elements; a constant.</param>
    [Intrinsic(IntrinsicKind.SharedAllocate)]
    public static unsafe ArrayView<T> Allocate<T>(int length) where T : unmanaged
    {
        nint pointer = KernelContext.Get("SharedMemory.Allocate").SharedAllocate(checked(length * sizeof(T)));
        return new ArrayView<T>((T*)pointer, length);
    }

    /// <summary>The shared memory whose size the launch chose (<see cref="KernelConfig.DynamicSharedBytes"/>).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    [Intrinsic(IntrinsicKind.SharedDynamic)]
    public static unsafe ArrayView<T> GetDynamic<T>() where T : unmanaged
    {
        nint pointer = KernelContext.Get("SharedMemory.GetDynamic").DynamicShared(out int bytes);
        return new ArrayView<T>((T*)pointer, bytes / sizeof(T));
    }
}
