using Engine;
using Engine.Gpu;

namespace Engine.Tests.Accelerated;

/// <summary>The GPU backend's caching allocator: reuse, release, and what running out of memory says.</summary>
public sealed class DeviceMemoryTests
{
    /// <summary>The CPU interpreter with a fixed memory budget, so running out can be tested.</summary>
    private sealed class LimitedAccelerator(long capacityBytes) : Accelerator
    {
        private readonly CpuAccelerator _inner = new(32);

        public long UsedBytes;
        public int Allocations;

        public override string Name => $"limited ({capacityBytes} bytes)";
        public override int WarpSize => _inner.WarpSize;
        public override int MaxGroupSize => _inner.MaxGroupSize;

        public override MemoryBuffer<T> Allocate<T>(int length)
        {
            long bytes = (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            if (UsedBytes + bytes > capacityBytes) throw new OutOfMemoryException($"{bytes} more bytes than the budget allows");
            UsedBytes += bytes;
            Allocations++;
            return new Tracked<T>(this, _inner.Allocate<T>(length));
        }

        public override void Synchronize() => _inner.Synchronize();

        internal override void Launch(Engine.Gpu.CompiledKernel kernel, KernelConfig config, long[] arguments) => _inner.Launch(kernel, config, arguments);

        protected override void Dispose(bool disposing) => _inner.Dispose();

        private sealed class Tracked<T>(LimitedAccelerator owner, MemoryBuffer<T> inner) : MemoryBuffer<T>(owner, inner.Length) where T : unmanaged
        {
            protected override ArrayView<T> GetView() => inner.View;
            protected override void CopyFromHost(ReadOnlySpan<T> source) => inner.CopyFromCPU(source);
            protected override void CopyToHost(Span<T> destination) => inner.CopyToCPU(destination);
            protected override void CopyBytesFromHost(ReadOnlySpan<byte> source) => inner.CopyBytesFromCPU(source);
            protected override void CopyBytesToHost(Span<byte> destination) => inner.CopyBytesToCPU(destination);

            protected override void Free()
            {
                owner.UsedBytes -= inner.LengthInBytes;
                inner.Dispose();
            }
        }
    }

    [Fact]
    public void Freed_buffers_are_reused_and_running_out_releases_the_cache_then_says_what_to_do()
    {
        using var accelerator = new LimitedAccelerator(64 * 1024);
        var device = Device.FromAccelerator(accelerator);

        // The same shape again reuses the freed buffer: no new allocation.
        Tensor.Zeros([1024], DType.Float32, device).Dispose();
        int after = accelerator.Allocations;
        using (var again = Tensor.Zeros([1024], DType.Float32, device))
            Assert.All(again.ToArray<float>(), v => Assert.Equal(0f, v));   // cleared, though reused
        Assert.Equal(after, accelerator.Allocations);
        Assert.Equal(4096, device.CachedBytes);

        // 14 KiB cached in three sizes; 56 KiB more fits in the 64 KiB budget only once the cache is released.
        Tensor.Zeros([2048], DType.Float32, device).Dispose();
        Tensor.Zeros([256], DType.Int64, device).Dispose();
        Assert.Equal(4096 + 8192 + 2048, device.CachedBytes);
        using (var big = Tensor.Zeros([14 * 1024], DType.Float32, device))
        {
            Assert.Equal(0, device.CachedBytes);
            Assert.Equal(56 * 1024, device.LiveBytes);

            // Now more than the budget holds: a clear message, with the sizes and what to do.
            var e = Assert.Throws<OutOfMemoryException>(() => Tensor.Zeros([8 * 1024], DType.Float32, device));
            Assert.Contains("out of memory", e.Message);
            Assert.Contains($"{8192:N0} Float32 elements", e.Message);
            Assert.Contains("held by 1 live tensors", e.Message);
            Assert.Contains("--device-batch", e.Message);
        }
        Assert.Equal(0, device.LiveBuffers);
    }
}
