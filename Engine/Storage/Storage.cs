namespace Engine;

/// <summary>
/// Reference-counted memory shared by a tensor and its views: a managed array on the CPU
/// (<see cref="Cpu.CpuStorage"/>) or a buffer on an accelerator (<see cref="Accelerated.DeviceStorage"/>).
/// The last release hands the memory back to the device's caching allocator.
/// </summary>
internal abstract class Storage(Device device, DType dtype, int length)
{
    private int _refs = 1;

    public Device Device { get; } = device;
    public DType DType { get; } = dtype;
    public int Length { get; } = length;
    public bool IsFreed => Volatile.Read(ref _refs) <= 0;

    public void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException("Tensor", "This tensor's storage was already freed.");
    }

    public void Release()
    {
        int left = Interlocked.Decrement(ref _refs);
        if (left == 0) ReturnToAllocator();
        else if (left < 0) throw new InvalidOperationException("A tensor storage was released more times than it was referenced.");
    }

    protected abstract void ReturnToAllocator();
}

/// <summary>A device's caching allocator: freed buffers are kept by (dtype, length) and handed out again.</summary>
internal interface IAllocator
{
    /// <summary>A buffer of <paramref name="length"/> elements; contents are unspecified unless <paramref name="clear"/>.</summary>
    Storage Allocate(DType dtype, int length, bool clear);

    long LiveBuffers { get; }
    long LiveBytes { get; }
    long CachedBytes { get; }
    long PeakLiveBytes { get; }
    void ResetPeak();
    void EmptyCache();
}

/// <summary>The high-water mark of live bytes, updated without locks.</summary>
internal static class Peak
{
    public static void Raise(ref long peak, long live)
    {
        long seen = Interlocked.Read(ref peak);
        while (live > seen)
        {
            long was = Interlocked.CompareExchange(ref peak, live, seen);
            if (was == seen) return;
            seen = was;
        }
    }
}
