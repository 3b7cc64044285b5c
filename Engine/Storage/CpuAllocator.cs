using System.Collections.Concurrent;

namespace Engine.Cpu;

/// <summary>
/// A caching allocator of managed arrays: freed buffers go back to a free list keyed by element
/// type and length, so a training step that allocates the same shapes every iteration stops
/// allocating after the first one and the GC never sees the activations.
/// </summary>
internal sealed class CpuAllocator(Device device) : IAllocator
{
    private readonly ConcurrentDictionary<(Type, int), ConcurrentBag<Array>> _free = new();
    private long _live, _liveBytes, _cachedBytes, _peakBytes;

    public long LiveBuffers => Interlocked.Read(ref _live);
    public long LiveBytes => Interlocked.Read(ref _liveBytes);
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);
    public long PeakLiveBytes => Interlocked.Read(ref _peakBytes);

    public void ResetPeak() => Interlocked.Exchange(ref _peakBytes, LiveBytes);

    /// <summary>A buffer of <paramref name="length"/> elements; contents are unspecified unless <paramref name="clear"/>.</summary>
    Storage IAllocator.Allocate(DType dtype, int length, bool clear) => Allocate(dtype, length, clear);

    public CpuStorage Allocate(DType dtype, int length, bool clear)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "A tensor cannot have a negative element count.");
        var type = dtype.ClrType();
        long bytes = (long)length * dtype.SizeOf();
        Array? array = null;
        if (_free.TryGetValue((type, length), out var bag) && bag.TryTake(out array))
        {
            Interlocked.Add(ref _cachedBytes, -bytes);
            if (clear) Array.Clear(array);
        }
        array ??= Array.CreateInstance(type, length);
        Interlocked.Increment(ref _live);
        Peak.Raise(ref _peakBytes, Interlocked.Add(ref _liveBytes, bytes));
        return new CpuStorage(this, device, dtype, array, length);
    }

    public void Return(CpuStorage storage)
    {
        long bytes = (long)storage.Length * storage.DType.SizeOf();
        Interlocked.Decrement(ref _live);
        Interlocked.Add(ref _liveBytes, -bytes);
        _free.GetOrAdd((storage.Data.GetType().GetElementType()!, storage.Length), _ => new ConcurrentBag<Array>()).Add(storage.Data);
        Interlocked.Add(ref _cachedBytes, bytes);
    }

    public void EmptyCache()
    {
        foreach (var (_, bag) in _free)
            while (bag.TryTake(out var a))
                Interlocked.Add(ref _cachedBytes, -(long)a.Length * System.Runtime.InteropServices.Marshal.SizeOf(a.GetType().GetElementType()!));
    }
}

/// <summary>Host memory: a managed array the CPU backend reads as spans.</summary>
internal sealed class CpuStorage(CpuAllocator allocator, Device device, DType dtype, Array data, int length) : Storage(device, dtype, length)
{
    public Array Data { get; } = data;

    protected override void ReturnToAllocator() => allocator.Return(this);
}
