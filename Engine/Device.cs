using Engine.Cpu;

namespace Engine;

/// <summary>What kind of processor a <see cref="Device"/> is.</summary>
public enum DeviceKind
{
    /// <summary>The host CPU, through the SIMD CPU backend.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU, through Engine.Kernels on Engine.Gpu (lands with the GPU backend).</summary>
    Cuda,
}

/// <summary>
/// Where a tensor's storage lives and which backend computes on it. Each device owns a caching
/// allocator, so a training loop that frees its temporaries (see <see cref="TensorScope"/>) reuses
/// the same buffers every step instead of asking the system for memory.
/// </summary>
public sealed class Device
{
    /// <summary>The host CPU.</summary>
    public static Device Cpu { get; } = new(DeviceKind.Cpu, "cpu", new CpuBackend());

    private Device(DeviceKind kind, string name, IBackend backend)
    {
        Kind = kind;
        Name = name;
        Backend = backend;
        Allocator = new CpuAllocator(this);
    }

    /// <summary>The kind of processor.</summary>
    public DeviceKind Kind { get; }

    /// <summary>A short name such as <c>cpu</c> or <c>cuda:0</c>.</summary>
    public string Name { get; }

    internal IBackend Backend { get; }

    internal CpuAllocator Allocator { get; }

    /// <summary>Buffers handed out and not yet returned: flat across steps in a loop that does not leak.</summary>
    public long LiveBuffers => Allocator.LiveBuffers;

    /// <summary>Bytes in buffers handed out and not yet returned.</summary>
    public long LiveBytes => Allocator.LiveBytes;

    /// <summary>Bytes held in the cache, free for reuse.</summary>
    public long CachedBytes => Allocator.CachedBytes;

    /// <summary>Drops every cached free buffer.</summary>
    public void EmptyCache() => Allocator.EmptyCache();

    /// <summary>Parses <c>cpu</c> (or, once the GPU backend lands, <c>cuda</c>).</summary>
    public static Device Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cpu" => Cpu,
        "cuda" or "cuda:0" or "gpu" => throw new NotSupportedException(
            "The CUDA backend is not available in this build of Engine yet; use --device cpu."),
        _ => throw new ArgumentException($"Unknown device '{name}'. Use 'cpu' or 'cuda'.", nameof(name)),
    };

    /// <inheritdoc/>
    public override string ToString() => Name;
}
