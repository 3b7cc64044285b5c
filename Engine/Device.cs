using Engine.Accelerated;
using Engine.Cpu;
using Engine.Gpu;

namespace Engine;

/// <summary>What kind of processor a <see cref="Device"/> is.</summary>
public enum DeviceKind
{
    /// <summary>The host CPU, through the SIMD CPU backend.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU, through Engine.Kernels on Engine.Gpu's CUDA accelerator.</summary>
    Cuda,
    /// <summary>
    /// Engine.Gpu's CPU interpreter standing in for a GPU: the GPU backend's kernels run thread by thread
    /// on the host. Slow; it is how the GPU backend is tested on machines without one.
    /// </summary>
    Emulated,
}

/// <summary>
/// Where a tensor's storage lives and which backend computes on it. Each device owns a caching
/// allocator, so a training loop that frees its temporaries (see <see cref="TensorScope"/>) reuses
/// the same buffers every step instead of asking the system (or the GPU driver) for memory.
/// </summary>
public sealed class Device
{
    private static readonly Lazy<Device> CudaDevice = new(() => new Device(DeviceKind.Cuda, "cuda", new CudaAccelerator(0)), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The host CPU.</summary>
    public static Device Cpu { get; } = new();

    private Device()
    {
        Kind = DeviceKind.Cpu;
        Name = "cpu";
        Backend = new CpuBackend();
        Allocator = new CpuAllocator(this);
    }

    private Device(DeviceKind kind, string name, Accelerator accelerator)
    {
        Kind = kind;
        Name = name;
        Accelerator = accelerator;
        Backend = new AcceleratorBackend(accelerator, this);
        Allocator = new AcceleratorAllocator(this, accelerator);
    }

    /// <summary>
    /// A device computing on <paramref name="accelerator"/> with Engine's GPU backend. Pass a
    /// <see cref="CpuAccelerator"/> to run the GPU backend's kernels on the host (kind
    /// <see cref="DeviceKind.Emulated"/>); <see cref="Cuda"/> is the device of the first GPU.
    /// The device does not own the accelerator: dispose the accelerator after the device's tensors.
    /// </summary>
    /// <param name="accelerator">Where the kernels run.</param>
    /// <param name="name">A short name for messages; defaults to the kind.</param>
    public static Device FromAccelerator(Accelerator accelerator, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        var kind = accelerator is CudaAccelerator ? DeviceKind.Cuda : DeviceKind.Emulated;
        return new Device(kind, name ?? (kind == DeviceKind.Cuda ? "cuda" : "emulated"), accelerator);
    }

    /// <summary>Why no CUDA device can be used here (no driver, no GPU), or null when one can.</summary>
    public static string? CudaUnavailable
    {
        get
        {
            try { return CudaAccelerator.Unavailable; }
            catch (Exception e) { return e.Message; }
        }
    }

    /// <summary>The first CUDA GPU (created on first use). Throws when there is none, saying why.</summary>
    public static Device Cuda
    {
        get
        {
            if (!CudaDevice.IsValueCreated && CudaUnavailable is { } why)
                throw new NotSupportedException($"No CUDA device: {why} Use the CPU (Device.Cpu, --device cpu).");
            return CudaDevice.Value;
        }
    }

    /// <summary>The first GPU when there is one, else the CPU.</summary>
    public static Device Default => CudaUnavailable is null ? Cuda : Cpu;

    /// <summary>The kind of processor.</summary>
    public DeviceKind Kind { get; }

    /// <summary>A short name such as <c>cpu</c> or <c>cuda</c>.</summary>
    public string Name { get; }

    /// <summary>The accelerator the GPU backend launches on; null for the CPU.</summary>
    public Accelerator? Accelerator { get; }

    /// <summary>
    /// Mixed precision on a GPU device, as torch.autocast(dtype=bfloat16) does it: matrix products whose
    /// sizes fit the tensor-core tiles (M and N multiples of 128, K of 32) and training attention with heads of
    /// 64 or 128 over a multiple of 64 positions take bf16 operands on the tensor cores (fp32 accumulation,
    /// results rounded once to bf16, then widened); weights, gradients, optimizer state and every other op
    /// stay fp32. Off by default: the fp32 path is the one that matches the CPU to ~1e-6. It may change
    /// between a forward and its backward (both paths save the same statistics). The CPU ignores it. The
    /// backend switches it off by itself, with a warning, if the driver cannot load the bf16 kernels.
    /// </summary>
    public bool Autocast { get; set; }

    internal IBackend Backend { get; }

    internal IAllocator Allocator { get; }

    /// <summary>Buffers handed out and not yet returned: flat across steps in a loop that does not leak.</summary>
    public long LiveBuffers => Allocator.Counters.LiveBuffers;

    /// <summary>Bytes in buffers handed out and not yet returned.</summary>
    public long LiveBytes => Allocator.Counters.LiveBytes;

    /// <summary>Bytes held in the cache, free for reuse.</summary>
    public long CachedBytes => Allocator.Counters.CachedBytes;

    /// <summary>The most bytes live at once since the device was made or <see cref="ResetPeakLiveBytes"/> (torch.cuda.max_memory_allocated).</summary>
    public long PeakLiveBytes => Allocator.Counters.PeakLiveBytes;

    /// <summary>Starts a new high-water mark from the bytes live now.</summary>
    public void ResetPeakLiveBytes() => Allocator.Counters.ResetPeak();

    /// <summary>Drops every cached free buffer.</summary>
    public void EmptyCache() => Allocator.EmptyCache();

    /// <summary>Waits for the kernels queued on this device to finish (timing, hand-over to other code). A no-op on the CPU.</summary>
    public void Synchronize() => Accelerator?.Synchronize();

    /// <summary>Parses <c>cpu</c>, <c>cuda</c> (also <c>cuda:0</c>, <c>gpu</c>) or <c>auto</c> (the GPU when there is one).</summary>
    public static Device Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cpu" => Cpu,
        "cuda" or "cuda:0" or "gpu" => Cuda,
        "auto" => Default,
        _ => throw new ArgumentException($"Unknown device '{name}'. Use 'cpu', 'cuda' or 'auto'.", nameof(name)),
    };

    /// <inheritdoc/>
    public override string ToString() => Name;
}
