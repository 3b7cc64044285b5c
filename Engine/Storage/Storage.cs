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

    /// <summary>Live and cached buffers and bytes, and the high-water mark.</summary>
    AllocationCounters Counters { get; }

    /// <summary>Releases every cached free buffer.</summary>
    void EmptyCache();
}

/// <summary>What both allocators count, without locks: live buffers and bytes, their high-water mark, cached bytes.</summary>
internal sealed class AllocationCounters
{
    private long _live, _liveBytes, _cachedBytes, _peakBytes;

    public long LiveBuffers => Interlocked.Read(ref _live);
    public long LiveBytes => Interlocked.Read(ref _liveBytes);
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);
    public long PeakLiveBytes => Interlocked.Read(ref _peakBytes);

    public void ResetPeak() => Interlocked.Exchange(ref _peakBytes, LiveBytes);

    /// <summary>A buffer of <paramref name="bytes"/> handed out (taken from the cache when <paramref name="fromCache"/>).</summary>
    public void Handed(long bytes, bool fromCache)
    {
        if (fromCache) Interlocked.Add(ref _cachedBytes, -bytes);
        Interlocked.Increment(ref _live);
        long live = Interlocked.Add(ref _liveBytes, bytes);
        long seen = Interlocked.Read(ref _peakBytes);
        while (live > seen)
        {
            long was = Interlocked.CompareExchange(ref _peakBytes, live, seen);
            if (was == seen) break;
            seen = was;
        }
    }

    /// <summary>A buffer of <paramref name="bytes"/> given back to the cache.</summary>
    public void Returned(long bytes)
    {
        Interlocked.Decrement(ref _live);
        Interlocked.Add(ref _liveBytes, -bytes);
        Interlocked.Add(ref _cachedBytes, bytes);
    }

    /// <summary>A cached buffer of <paramref name="bytes"/> released for good.</summary>
    public void Released(long bytes) => Interlocked.Add(ref _cachedBytes, -bytes);
}
