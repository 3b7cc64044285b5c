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

/// <summary>What the driver reports about one loaded kernel (cuFuncGetAttribute).</summary>
/// <param name="Registers">Registers per thread.</param>
/// <param name="StaticSharedBytes">Statically allocated shared memory per group.</param>
/// <param name="LocalBytes">Local memory per thread (spills and stack; 0 when everything stayed in registers).</param>
/// <param name="MaxGroupSize">The largest group this kernel can launch with, given its registers.</param>
/// <param name="PtxVersion">The PTX ISA version it was written for, times 10.</param>
/// <param name="BinaryVersion">The SASS architecture it was compiled to, times 10.</param>
public sealed record CudaKernelInfo(int Registers, int StaticSharedBytes, int LocalBytes, int MaxGroupSize, int PtxVersion, int BinaryVersion);

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
    private const int AttrMaxThreadsPerMultiprocessor = 39;
    private const int AttrClockRate = 13;
    private const int FuncAttrMaxThreadsPerBlock = 0;
    private const int FuncAttrSharedBytes = 1;
    private const int FuncAttrLocalBytes = 3;
    private const int FuncAttrRegisters = 4;
    private const int FuncAttrPtxVersion = 5;
    private const int FuncAttrBinaryVersion = 6;
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
        MaxThreadsPerMultiprocessor = Attribute(device, AttrMaxThreadsPerMultiprocessor);
        ClockRateKHz = Attribute(device, AttrClockRate);
    }

    /// <summary>The peak SM clock the driver reports, in kHz.</summary>
    public int ClockRateKHz { get; }

    /// <summary>
    /// Dense fp32 peak (no tensor cores) in GFLOP/s, derived: multiprocessors × fp32 lanes per
    /// multiprocessor × 2 (an FMA) × the peak clock. Lanes: 64 on compute capability 6.0, 7.x and 8.0,
    /// 128 on the others from 6.1 on (8.6, 8.9, 9.0, 10.x, 12.x). An H100 SXM gives 132 × 128 × 2 ×
    /// 1.98 GHz ≈ 67 TFLOP/s, its datasheet figure. MFU of fp32 training divides by this.
    /// </summary>
    public double PeakFloat32Gflops
    {
        get
        {
            int cc = Info.ComputeCapability;
            int lanes = cc is 60 or (>= 70 and <= 80) ? 64 : 128;
            return Info.Multiprocessors * (double)lanes * 2 * ClockRateKHz / 1e6;
        }
    }

    /// <summary>
    /// Dense bf16 tensor-core peak (fp32 accumulation) in GFLOP/s, derived as multiprocessors × FLOPs per
    /// clock per multiprocessor × the peak clock, for the architectures whose rate is known here: 2048
    /// FLOP/clock on 8.0 (A100), 512 on 8.6 and 8.9 (the professional parts; GeForce cards halve it with
    /// fp32 accumulation), 4096 on 9.0 (H100). 0 for others (MFU then reports FLOP/s only). The driver's
    /// clock is the boost clock, above the one NVIDIA's datasheets use for tensor work (H100 SXM: this gives
    /// 1070 TFLOP/s against the datasheet's 989), so MFU against it errs low, never high.
    /// </summary>
    public double PeakBFloat16Gflops
    {
        get
        {
            int perClock = Info.ComputeCapability switch
            {
                80 => 2048,
                86 or 89 => 512,
                90 => 4096,
                _ => 0,
            };
            return Info.Multiprocessors * (double)perClock * ClockRateKHz / 1e6;
        }
    }

    /// <summary>The most threads one multiprocessor keeps resident.</summary>
    public int MaxThreadsPerMultiprocessor { get; }

    /// <summary>Registers, shared and local memory of <paramref name="kernel"/> as the driver compiled it (loading it if needed).</summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    public CudaKernelInfo GetKernelInfo(Delegate kernel)
    {
        nint function = Loaded(kernel, 0);
        int Get(int attribute)
        {
            int value;
            CudaDriver.Check(CudaDriver.cuFuncGetAttribute(&value, attribute, function), "cuFuncGetAttribute");
            return value;
        }
        return new CudaKernelInfo(Get(FuncAttrRegisters), Get(FuncAttrSharedBytes), Get(FuncAttrLocalBytes), Get(FuncAttrMaxThreadsPerBlock),
            Get(FuncAttrPtxVersion), Get(FuncAttrBinaryVersion));
    }

    /// <summary>
    /// How many groups of <paramref name="groupSize"/> threads with <paramref name="dynamicSharedBytes"/> of
    /// dynamic shared memory fit on one multiprocessor at once (cuOccupancyMaxActiveBlocksPerMultiprocessor).
    /// </summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    /// <param name="groupSize">Threads per group.</param>
    /// <param name="dynamicSharedBytes">Dynamic shared memory per group.</param>
    public int MaxActiveGroupsPerMultiprocessor(Delegate kernel, int groupSize, int dynamicSharedBytes = 0)
    {
        if (groupSize <= 0 || groupSize > MaxGroupSize)
        {
            throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, $"A group has 1 to {MaxGroupSize} threads on {Name}.");
        }
        nint function = Loaded(kernel, dynamicSharedBytes);
        int groups;
        CudaDriver.Check(CudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(&groups, function, groupSize, (nuint)dynamicSharedBytes),
            "cuOccupancyMaxActiveBlocksPerMultiprocessor");
        return groups;
    }

    /// <summary>The fraction of a multiprocessor's thread slots the launch keeps busy: resident groups times group size over the maximum.</summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    /// <param name="groupSize">Threads per group.</param>
    /// <param name="dynamicSharedBytes">Dynamic shared memory per group.</param>
    public double Occupancy(Delegate kernel, int groupSize, int dynamicSharedBytes = 0) =>
        (double)MaxActiveGroupsPerMultiprocessor(kernel, groupSize, dynamicSharedBytes) * groupSize / MaxThreadsPerMultiprocessor;

    /// <summary>
    /// The group size that maximises occupancy for <paramref name="kernel"/>, and the fewest groups that fill
    /// the device at that size (cuOccupancyMaxPotentialBlockSize, with a fixed dynamic shared size).
    /// </summary>
    /// <param name="kernel">A static [Kernel] method.</param>
    /// <param name="dynamicSharedBytes">Dynamic shared memory per group, whatever its size.</param>
    public (int GroupSize, int MinGridSize) SuggestGroupSize(Delegate kernel, int dynamicSharedBytes = 0)
    {
        nint function = Loaded(kernel, dynamicSharedBytes);
        int grid, group;
        CudaDriver.Check(CudaDriver.cuOccupancyMaxPotentialBlockSize(&grid, &group, function, 0, (nuint)dynamicSharedBytes, 0), "cuOccupancyMaxPotentialBlockSize");
        return (group, grid);
    }

    /// <summary>The driver function of <paramref name="kernel"/>, loaded and opted in to <paramref name="dynamicSharedBytes"/>.</summary>
    private nint Loaded(Delegate kernel, int dynamicSharedBytes)
    {
        if (dynamicSharedBytes < 0 || dynamicSharedBytes > MaxSharedBytesPerGroup)
        {
            throw new ArgumentOutOfRangeException(nameof(dynamicSharedBytes), dynamicSharedBytes, $"{Name} allows 0 to {MaxSharedBytesPerGroup} bytes of shared memory per group.");
        }
        return Loaded(Compile(kernel), dynamicSharedBytes);
    }

    private nint Loaded(CompiledKernel compiled, int dynamicSharedBytes)
    {
        MakeCurrent();
        lock (_functions)
        {
            return LoadedLocked(compiled, dynamicSharedBytes);
        }
    }

    private nint LoadedLocked(CompiledKernel compiled, int dynamicSharedBytes)
    {
        if (!_functions.TryGetValue(compiled, out var loaded))
        {
            loaded = LoadModule(compiled);
            _functions[compiled] = loaded;
        }
        if (dynamicSharedBytes > loaded.DynamicLimit)
        {
            // Beyond 48 KB a kernel must opt in to its dynamic shared memory.
            CudaDriver.Check(CudaDriver.cuFuncSetAttribute(loaded.Function, FuncAttrMaxDynamicShared, dynamicSharedBytes), "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
            _functions[compiled] = loaded with { DynamicLimit = dynamicSharedBytes };
        }
        return loaded.Function;
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

    /// <summary>
    /// Binds this device's context to the calling thread. The driver's current context is per thread, and
    /// .NET code moves between threads (async continuations, the thread pool), so every entry point that
    /// calls the driver binds it first: launches, allocations, copies, frees.
    /// </summary>
    internal void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");

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
        nint function = Loaded(kernel, config.DynamicSharedBytes);
        int slots = kernel.ParameterSlots;
        long* values = stackalloc long[Math.Max(1, slots)];
        void** pointers = stackalloc void*[Math.Max(1, slots)];
        for (int k = 0; k < slots; k++)
        {
            values[k] = arguments[k];
            pointers[k] = &values[k]; // Little-endian: a 4-byte parameter reads the low half.
        }
        CudaDriver.Check(CudaDriver.cuLaunchKernel(function,
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
        ((CudaAccelerator)Accelerator).MakeCurrent();
        fixed (T* p = source)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoD(_device, p, (nuint)(source.Length * sizeof(T))), "cuMemcpyHtoD");
        }
    }

    protected override void CopyBytesFromHost(ReadOnlySpan<byte> source)
    {
        ((CudaAccelerator)Accelerator).MakeCurrent();
        fixed (byte* p = source)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoD(_device, p, (nuint)source.Length), "cuMemcpyHtoD");
        }
    }

    protected override void CopyBytesToHost(Span<byte> destination)
    {
        ((CudaAccelerator)Accelerator).MakeCurrent();
        fixed (byte* p = destination)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoH(p, _device, (nuint)destination.Length), "cuMemcpyDtoH");
        }
    }

    protected override void CopyToHost(Span<T> destination)
    {
        ((CudaAccelerator)Accelerator).MakeCurrent();
        fixed (T* p = destination)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoH(p, _device, (nuint)(destination.Length * sizeof(T))), "cuMemcpyDtoH");
        }
    }

    protected override void Free()
    {
        if (_device != 0)
        {
            ((CudaAccelerator)Accelerator).MakeCurrent();
            CudaDriver.cuMemFree(_device);
            _device = 0;
        }
    }
}
