using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Gpu.Cuda;
using Engine.Gpu.Ptx;

namespace Engine.Gpu;

/// <summary>What is known about one CUDA device without opening it.</summary>
/// <param name="Ordinal">The device number for <see cref="CudaAccelerator(int)"/>.</param>
/// <param name="Name">The device's name.</param>
/// <param name="ComputeCapability">Major * 10 + minor, e.g. 90 for an H100.</param>
/// <param name="TotalMemoryBytes">Device memory in bytes.</param>
/// <param name="Multiprocessors">Streaming multiprocessors.</param>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int ComputeCapability, long TotalMemoryBytes, int Multiprocessors);

/// <summary>
/// An NVIDIA GPU through the CUDA driver API: kernels are compiled to PTX and JIT-compiled by the driver.
/// Construction fails with a <see cref="CudaException"/> that says why when there is no driver or GPU;
/// <see cref="Devices"/> and <see cref="Unavailable"/> ask without throwing.
/// </summary>
public sealed unsafe class CudaAccelerator : Accelerator
{
    private const int AttrMaxThreadsPerBlock = 1;
    private const int AttrWarpSize = 10;
    private const int AttrMultiprocessors = 16;
    private const int AttrMajor = 75;
    private const int AttrMinor = 76;
    private const int AttrMaxSharedOptin = 97;
    private const int FuncAttrMaxDynamicShared = 8;
    private const int JitErrorLogBuffer = 5;
    private const int JitErrorLogBufferSize = 6;

    private readonly Dictionary<CompiledKernel, (nint Module, nint Function, int DynamicLimit)> _functions = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<CompiledKernel, string> _cachedPtx = new();
    private readonly int _device;
    private nint _context;

    /// <summary>Opens CUDA device <paramref name="ordinal"/>.</summary>
    /// <param name="ordinal">The device number (see <see cref="Devices"/>).</param>
    public CudaAccelerator(int ordinal = 0)
    {
        CudaDriver.EnsureLoaded();
        IReadOnlyList<CudaDeviceInfo> devices = Devices;
        if (ordinal < 0 || ordinal >= devices.Count)
        {
            throw new CudaException(-1, devices.Count == 0
                ? "the CUDA driver reports no GPU."
                : $"there is no CUDA device {ordinal}; devices: {string.Join(", ", devices.Select(d => $"{d.Ordinal}: {d.Name}"))}.");
        }
        Info = devices[ordinal];
        int device;
        CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        _device = device;
        nint context;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        _context = context;
        MakeCurrent();
        WarpSize = Attribute(device, AttrWarpSize);
        MaxGroupSize = Attribute(device, AttrMaxThreadsPerBlock);
        MaxSharedBytesPerGroup = Attribute(device, AttrMaxSharedOptin);
    }

    /// <summary>Why no CUDA device can be used here, or null when one can.</summary>
    public static string? Unavailable => CudaDriver.LoadError ?? (Devices.Count == 0 ? "the CUDA driver reports no GPU." : null);

    /// <summary>The CUDA devices present (empty when there is no driver).</summary>
    public static IReadOnlyList<CudaDeviceInfo> Devices
    {
        get
        {
            if (CudaDriver.LoadError is not null)
            {
                return [];
            }
            int count;
            CudaDriver.Check(CudaDriver.cuDeviceGetCount(&count), "cuDeviceGetCount");
            var result = new List<CudaDeviceInfo>();
            byte* name = stackalloc byte[256];
            for (int k = 0; k < count; k++)
            {
                int device;
                CudaDriver.Check(CudaDriver.cuDeviceGet(&device, k), "cuDeviceGet");
                CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
                nuint bytes;
                CudaDriver.Check(CudaDriver.cuDeviceTotalMem(&bytes, device), "cuDeviceTotalMem");
                result.Add(new CudaDeviceInfo(k, Marshal.PtrToStringUTF8((nint)name) ?? "?",
                    Attribute(device, AttrMajor) * 10 + Attribute(device, AttrMinor), (long)bytes, Attribute(device, AttrMultiprocessors)));
            }
            return result;
        }
    }

    /// <summary>The device this accelerator runs on.</summary>
    public CudaDeviceInfo Info { get; }

    /// <inheritdoc/>
    public override string Name => $"{Info.Name} (sm_{Info.ComputeCapability})";

    /// <inheritdoc/>
    public override int WarpSize { get; }

    /// <inheritdoc/>
    public override int MaxGroupSize { get; }

    /// <summary>The stream launches go to; null is the default stream.</summary>
    public CudaStream? CurrentStream { get; set; }

    /// <summary>Creates a stream on this device.</summary>
    public CudaStream CreateStream()
    {
        MakeCurrent();
        return new CudaStream(this);
    }

    /// <summary>Creates an event on this device, for timing and ordering.</summary>
    public CudaEvent CreateEvent()
    {
        MakeCurrent();
        return new CudaEvent(this);
    }

    /// <summary>The most shared memory (static plus dynamic) a group may opt in to.</summary>
    public int MaxSharedBytesPerGroup { get; }

    private static int Attribute(int device, int attribute)
    {
        int value;
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute");
        return value;
    }

    private void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");

    /// <inheritdoc/>
    public override MemoryBuffer<T> Allocate<T>(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        MakeCurrent();
        return new CudaMemoryBuffer<T>(this, length);
    }

    /// <inheritdoc/>
    public override void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>The PTX this accelerator would load for <paramref name="kernel"/>.</summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    public string GetPtx(Delegate kernel) => PtxDiskCache.Get(Compile(kernel).Method, new PtxTarget(Info.ComputeCapability));

    internal override void Launch(CompiledKernel kernel, KernelConfig config, long[] arguments)
    {
        config.Validate(MaxGroupSize);
        if (config.DynamicSharedBytes > MaxSharedBytesPerGroup)
        {
            throw new ArgumentException($"{kernel.Name} asks for {config.DynamicSharedBytes} bytes of dynamic shared memory; {Name} allows {MaxSharedBytesPerGroup} per group.");
        }
        MakeCurrent();
        if (!_functions.TryGetValue(kernel, out var loaded))
        {
            loaded = LoadModule(kernel);
            _functions[kernel] = loaded;
        }
        if (config.DynamicSharedBytes > 48 * 1024 && config.DynamicSharedBytes > loaded.DynamicLimit)
        {
            // Beyond 48 KB a kernel must opt in to its dynamic shared memory.
            CudaDriver.Check(CudaDriver.cuFuncSetAttribute(loaded.Function, FuncAttrMaxDynamicShared, config.DynamicSharedBytes), "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
            _functions[kernel] = loaded with { DynamicLimit = config.DynamicSharedBytes };
        }
        int slots = kernel.ParameterSlots;
        long* values = stackalloc long[Math.Max(1, slots)];
        void** pointers = stackalloc void*[Math.Max(1, slots)];
        for (int k = 0; k < slots; k++)
        {
            values[k] = arguments[k];
            pointers[k] = &values[k]; // Little-endian: a 4-byte parameter reads the low half.
        }
        CudaDriver.Check(CudaDriver.cuLaunchKernel(loaded.Function,
            (uint)config.GridDim.X, (uint)config.GridDim.Y, (uint)config.GridDim.Z,
            (uint)config.GroupDim.X, (uint)config.GroupDim.Y, (uint)config.GroupDim.Z,
            (uint)config.DynamicSharedBytes, CurrentStream?.Handle ?? 0, pointers, null), $"cuLaunchKernel({kernel.Name})");
    }

    /// <summary>
    /// A kernel whose PTX is in the disk cache is loaded from there without translating its IL (the cache
    /// stores only kernels that compiled, so there is no error left to surface); any other is compiled now.
    /// </summary>
    private protected override CompiledKernel CompileMethod(MethodInfo method)
    {
        if (PtxDiskCache.Default is { } cache && cache.TryGet(method, new PtxTarget(Info.ComputeCapability)) is { } ptx)
        {
            CompiledKernel kernel = KernelCompiler.Deferred(method);
            _cachedPtx[kernel] = ptx;
            return kernel;
        }
        return KernelCompiler.Compile(method);
    }

    private (nint Module, nint Function, int DynamicLimit) LoadModule(CompiledKernel kernel)
    {
        string ptx = _cachedPtx.TryRemove(kernel, out string? cached) ? cached : PtxDiskCache.Get(kernel.Method, new PtxTarget(Info.ComputeCapability));
        byte[] image = Encoding.UTF8.GetBytes(ptx + "\0");
        const int logSize = 16 * 1024;
        byte* log = stackalloc byte[logSize];
        int* options = stackalloc int[2] { JitErrorLogBuffer, JitErrorLogBufferSize };
        void** optionValues = stackalloc void*[2] { log, (void*)logSize };
        nint module;
        int status;
        fixed (byte* p = image)
        {
            status = CudaDriver.cuModuleLoadDataEx(&module, p, 2, options, optionValues);
        }
        if (status != 0)
        {
            string jitLog = Marshal.PtrToStringUTF8((nint)log) ?? "";
            throw new CudaException(status, $"The driver could not load the PTX of {kernel.Name}: {CudaDriver.Describe(status)}\nJIT log:\n{jitLog}\nPTX:\n{ptx}");
        }
        nint function;
        byte[] name = Encoding.ASCII.GetBytes("kernel\0");
        fixed (byte* n = name)
        {
            CudaDriver.Check(CudaDriver.cuModuleGetFunction(&function, module, n), "cuModuleGetFunction");
        }
        return (module, function, 48 * 1024);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (_context != 0)
        {
            foreach (var (module, _, _) in _functions.Values)
            {
                CudaDriver.cuModuleUnload(module);
            }
            _functions.Clear();
            CudaDriver.cuDevicePrimaryCtxRelease(_device);
            _context = 0;
        }
    }
}

/// <summary>Device memory from cuMemAlloc.</summary>
internal sealed unsafe class CudaMemoryBuffer<T> : MemoryBuffer<T> where T : unmanaged
{
    private ulong _device;

    public CudaMemoryBuffer(CudaAccelerator accelerator, int length) : base(accelerator, length)
    {
        ulong pointer;
        CudaDriver.Check(CudaDriver.cuMemAlloc(&pointer, (nuint)Math.Max(1L, (long)length * sizeof(T))), $"cuMemAlloc({(long)length * sizeof(T)} bytes)");
        _device = pointer;
    }

    protected override ArrayView<T> GetView() => new((T*)_device, Length);

    protected override void CopyFromHost(ReadOnlySpan<T> source)
    {
        fixed (T* p = source)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoD(_device, p, (nuint)(source.Length * sizeof(T))), "cuMemcpyHtoD");
        }
    }

    protected override void CopyToHost(Span<T> destination)
    {
        fixed (T* p = destination)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoH(p, _device, (nuint)(destination.Length * sizeof(T))), "cuMemcpyDtoH");
        }
    }

    protected override void Free()
    {
        if (_device != 0)
        {
            CudaDriver.cuMemFree(_device);
            _device = 0;
        }
    }
}
