using System.Runtime.InteropServices;

namespace Engine.Gpu.Cuda;

/// <summary>
/// The CUDA driver API, loaded at run time from libcuda.so.1 (Linux) or nvcuda.dll (Windows). Loading
/// is lazy and never throws: <see cref="LoadError"/> says why the driver is unavailable.
/// </summary>
internal static unsafe class CudaDriver
{
    public static readonly string LibraryName = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";

    private static readonly Lazy<string?> Loaded = new(Load);
    private static nint _library;

    public static delegate* unmanaged<uint, int> cuInit;
    public static delegate* unmanaged<int*, int> cuDeviceGetCount;
    public static delegate* unmanaged<int*, int, int> cuDeviceGet;
    public static delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
    public static delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public static delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem;
    public static delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
    public static delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease;
    public static delegate* unmanaged<nint, int> cuCtxSetCurrent;
    public static delegate* unmanaged<int> cuCtxSynchronize;
    public static delegate* unmanaged<ulong*, nuint, int> cuMemAlloc;
    public static delegate* unmanaged<ulong, int> cuMemFree;
    public static delegate* unmanaged<ulong, void*, nuint, int> cuMemcpyHtoD;
    public static delegate* unmanaged<void*, ulong, nuint, int> cuMemcpyDtoH;
    public static delegate* unmanaged<nint*, void*, uint, int*, void**, int> cuModuleLoadDataEx;
    public static delegate* unmanaged<nint, int> cuModuleUnload;
    public static delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
    public static delegate* unmanaged<nint, int, int, int> cuFuncSetAttribute;
    public static delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;
    public static delegate* unmanaged<nint*, uint, int> cuStreamCreate;
    public static delegate* unmanaged<nint, int> cuStreamDestroy;
    public static delegate* unmanaged<nint, int> cuStreamSynchronize;
    public static delegate* unmanaged<nint*, uint, int> cuEventCreate;
    public static delegate* unmanaged<nint, int> cuEventDestroy;
    public static delegate* unmanaged<nint, nint, int> cuEventRecord;
    public static delegate* unmanaged<nint, int> cuEventSynchronize;
    public static delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
    public static delegate* unmanaged<int*, int, nint, int> cuFuncGetAttribute;
    public static delegate* unmanaged<int*, nint, int, nuint, int> cuOccupancyMaxActiveBlocksPerMultiprocessor;
    public static delegate* unmanaged<int*, int*, nint, nint, nuint, int, int> cuOccupancyMaxPotentialBlockSize;
    public static delegate* unmanaged<int, byte**, int> cuGetErrorName;
    public static delegate* unmanaged<int, byte**, int> cuGetErrorString;

    /// <summary>Null when the driver is loaded and initialised; otherwise what went wrong.</summary>
    public static string? LoadError => Loaded.Value;

    private static string? Load()
    {
        if (!NativeLibrary.TryLoad(LibraryName, out _library))
        {
            return $"no CUDA driver found ({LibraryName} could not be loaded). Install the NVIDIA driver, or use CpuAccelerator.";
        }
        try
        {
            cuInit = (delegate* unmanaged<uint, int>)Export("cuInit");
            cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export("cuDeviceGetCount");
            cuDeviceGet = (delegate* unmanaged<int*, int, int>)Export("cuDeviceGet");
            cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Export("cuDeviceGetName");
            cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export("cuDeviceGetAttribute");
            cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)Export("cuDeviceTotalMem_v2");
            cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Export("cuDevicePrimaryCtxRetain");
            cuDevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)Export("cuDevicePrimaryCtxRelease_v2");
            cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Export("cuCtxSetCurrent");
            cuCtxSynchronize = (delegate* unmanaged<int>)Export("cuCtxSynchronize");
            cuMemAlloc = (delegate* unmanaged<ulong*, nuint, int>)Export("cuMemAlloc_v2");
            cuMemFree = (delegate* unmanaged<ulong, int>)Export("cuMemFree_v2");
            cuMemcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)Export("cuMemcpyHtoD_v2");
            cuMemcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)Export("cuMemcpyDtoH_v2");
            cuModuleLoadDataEx = (delegate* unmanaged<nint*, void*, uint, int*, void**, int>)Export("cuModuleLoadDataEx");
            cuModuleUnload = (delegate* unmanaged<nint, int>)Export("cuModuleUnload");
            cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Export("cuModuleGetFunction");
            cuFuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)Export("cuFuncSetAttribute");
            cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Export("cuLaunchKernel");
            cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)Export("cuStreamCreate");
            cuStreamDestroy = (delegate* unmanaged<nint, int>)Export("cuStreamDestroy_v2");
            cuStreamSynchronize = (delegate* unmanaged<nint, int>)Export("cuStreamSynchronize");
            cuEventCreate = (delegate* unmanaged<nint*, uint, int>)Export("cuEventCreate");
            cuEventDestroy = (delegate* unmanaged<nint, int>)Export("cuEventDestroy_v2");
            cuEventRecord = (delegate* unmanaged<nint, nint, int>)Export("cuEventRecord");
            cuEventSynchronize = (delegate* unmanaged<nint, int>)Export("cuEventSynchronize");
            cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)Export("cuEventElapsedTime");
            cuFuncGetAttribute = (delegate* unmanaged<int*, int, nint, int>)Export("cuFuncGetAttribute");
            cuOccupancyMaxActiveBlocksPerMultiprocessor = (delegate* unmanaged<int*, nint, int, nuint, int>)Export("cuOccupancyMaxActiveBlocksPerMultiprocessor");
            cuOccupancyMaxPotentialBlockSize = (delegate* unmanaged<int*, int*, nint, nint, nuint, int, int>)Export("cuOccupancyMaxPotentialBlockSize");
            cuGetErrorName = (delegate* unmanaged<int, byte**, int>)Export("cuGetErrorName");
            cuGetErrorString = (delegate* unmanaged<int, byte**, int>)Export("cuGetErrorString");
        }
        catch (EntryPointNotFoundException e)
        {
            return $"the CUDA driver ({LibraryName}) is too old: {e.Message}";
        }
        int status = cuInit(0);
        return status == 0 ? null : $"the CUDA driver ({LibraryName}) failed to initialise: {Describe(status)}";
    }

    private static nint Export(string name) => NativeLibrary.GetExport(_library, name);

    /// <summary>Throws a <see cref="CudaException"/> unless the call succeeded.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new CudaException(status, $"{call} failed: {Describe(status)}");
        }
    }

    public static string Describe(int status)
    {
        if (cuGetErrorName == null)
        {
            return $"error {status}";
        }
        byte* name = null, text = null;
        cuGetErrorName(status, &name);
        cuGetErrorString(status, &text);
        return $"{Marshal.PtrToStringUTF8((nint)name) ?? "CUDA_ERROR"} ({status}): {Marshal.PtrToStringUTF8((nint)text) ?? "no description"}";
    }

    /// <summary>Throws with the driver's reason when it is unavailable.</summary>
    public static void EnsureLoaded()
    {
        if (LoadError is { } error)
        {
            throw new CudaException(-1, error);
        }
    }
}
