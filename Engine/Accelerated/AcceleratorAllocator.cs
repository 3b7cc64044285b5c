using System.Collections.Concurrent;
using Engine.Gpu;
using Engine.Kernels;

namespace Engine.Accelerated;

/// <summary>
/// The caching allocator of an accelerator device: buffers freed by tensors go to a free list keyed by
/// their size in bytes and are handed out again, so a training step that allocates the same shapes every
/// iteration stops calling the driver after the first one (cudaMalloc synchronises the device and costs
/// far more than a kernel). Buffers are arrays of 8-byte words (sizes rounded up to a whole word), so
/// every buffer can be cleared in words and one tensor may hold up to int.MaxValue elements of any
/// dtype (16 GiB of fp64) where a byte-indexed buffer would stop at 2 GiB.
/// </summary>
internal sealed class AcceleratorAllocator(Device device, Accelerator accelerator) : IAllocator
{
    private readonly ConcurrentDictionary<long, ConcurrentBag<MemoryBuffer<ulong>>> _free = new();

    public AllocationCounters Counters { get; } = new();

    internal static long RoundedBytes(DType dtype, int length) => ((long)length * dtype.SizeOf() + 7) & ~7L;

    public Storage Allocate(DType dtype, int length, bool clear)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "A tensor cannot have a negative element count.");
        long bytes = RoundedBytes(dtype, length);
        MemoryBuffer<ulong>? buffer = null;
        bool cached = _free.TryGetValue(bytes, out var bag) && bag.TryTake(out buffer);
        buffer ??= AllocateFresh(dtype, length, bytes);
        if (clear && bytes > 0) TensorKernels.Fill(accelerator, buffer.View, 0UL);
        Counters.Handed(bytes, cached);
        return new DeviceStorage(this, device, dtype, buffer, length, bytes);
    }

    /// <summary>
    /// A new buffer from the accelerator. When the device is out of memory, the cached free buffers (of other
    /// sizes) are released and the allocation tried once more, as PyTorch's allocator does; if it still fails,
    /// the exception says how much was asked, held and cached, and what to do.
    /// </summary>
    private MemoryBuffer<ulong> AllocateFresh(DType dtype, int length, long bytes)
    {
        int words = (int)Math.Max(1, bytes / 8);
        try
        {
            return accelerator.Allocate<ulong>(words);
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            EmptyCache();
            try
            {
                return accelerator.Allocate<ulong>(words);
            }
            catch (Exception again) when (IsOutOfMemory(again))
            {
                throw new OutOfMemoryException(
                    $"{device.Name} ({accelerator.Name}) is out of memory: a tensor of {length:N0} {dtype} elements needs {bytes / 1048576.0:F1} MiB, " +
                    $"while {Counters.LiveBytes / 1048576.0:F1} MiB are held by {Counters.LiveBuffers:N0} live tensors (the cache of free buffers was released and the allocation retried). " +
                    "Use a smaller batch (NanoChat: --device-batch), a shorter sequence or a smaller model, or dispose tensors sooner (TensorScope).", again);
            }
        }
    }

    private static bool IsOutOfMemory(Exception e) => e is OutOfMemoryException or CudaException { Status: 2 };

    public void Return(DeviceStorage storage)
    {
        _free.GetOrAdd(storage.Bytes, _ => new ConcurrentBag<MemoryBuffer<ulong>>()).Add(storage.Buffer);
        Counters.Returned(storage.Bytes);
    }

    public void EmptyCache()
    {
        accelerator.Synchronize();   // a kernel still queued may read a buffer about to go
        foreach (var (bytes, bag) in _free)
            while (bag.TryTake(out var buffer))
            {
                buffer.Dispose();
                Counters.Released(bytes);
            }
    }
}

/// <summary>Accelerator memory: one buffer of 8-byte words, read by kernels as views of the tensor's element type.</summary>
internal sealed class DeviceStorage(AcceleratorAllocator allocator, Device device, DType dtype, MemoryBuffer<ulong> buffer, int length, long bytes)
    : Storage(device, dtype, length)
{
    public MemoryBuffer<ulong> Buffer { get; } = buffer;

    /// <summary>Bytes held (the element bytes rounded up to 8).</summary>
    public long Bytes { get; } = bytes;

    /// <summary>The buffer as <see cref="Storage.Length"/> elements of <typeparamref name="T"/>.</summary>
    public ArrayView<T> View<T>() where T : unmanaged => Buffer.View.Cast<T>().SubView(0, Length);

    protected override void ReturnToAllocator() => allocator.Return(this);
}
