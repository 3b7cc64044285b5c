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

    public AllocationCounters Counters { get; } = new();

    /// <summary>A buffer of <paramref name="length"/> elements; contents are unspecified unless <paramref name="clear"/>.</summary>
    Storage IAllocator.Allocate(DType dtype, int length, bool clear) => Allocate(dtype, length, clear);

    public CpuStorage Allocate(DType dtype, int length, bool clear)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "A tensor cannot have a negative element count.");
        var type = dtype.ClrType();
        long bytes = (long)length * dtype.SizeOf();
        Array? array = null;
        bool cached = _free.TryGetValue((type, length), out var bag) && bag.TryTake(out array);
        if (cached && clear) Array.Clear(array!);
        array ??= Array.CreateInstance(type, length);
        Counters.Handed(bytes, cached);
        return new CpuStorage(this, device, dtype, array, length);
    }

    public void Return(CpuStorage storage)
    {
        _free.GetOrAdd((storage.Data.GetType().GetElementType()!, storage.Length), _ => new ConcurrentBag<Array>()).Add(storage.Data);
        Counters.Returned((long)storage.Length * storage.DType.SizeOf());
    }

    public void EmptyCache()
    {
        foreach (var (_, bag) in _free)
            while (bag.TryTake(out var a))
                Counters.Released((long)a.Length * System.Runtime.InteropServices.Marshal.SizeOf(a.GetType().GetElementType()!));
    }
}

/// <summary>Host memory: a managed array the CPU backend reads as spans.</summary>
internal sealed class CpuStorage(CpuAllocator allocator, Device device, DType dtype, Array data, int length) : Storage(device, dtype, length)
{
    public Array Data { get; } = data;

    protected override void ReturnToAllocator() => allocator.Return(this);
}
