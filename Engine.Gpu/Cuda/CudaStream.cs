using Engine.Gpu.Cuda;

namespace Engine.Gpu;

/// <summary>A CUDA stream: launches on one stream run in order; different streams may overlap.</summary>
public sealed unsafe class CudaStream : IDisposable
{
    internal CudaStream(CudaAccelerator accelerator)
    {
        Accelerator = accelerator;
        nint handle;
        CudaDriver.Check(CudaDriver.cuStreamCreate(&handle, 0 /* CU_STREAM_DEFAULT: synchronous copies order with it */), "cuStreamCreate");
        Handle = handle;
    }

    /// <summary>The accelerator the stream belongs to.</summary>
    public CudaAccelerator Accelerator { get; }

    internal nint Handle { get; private set; }

    /// <summary>Waits until everything queued on the stream has finished.</summary>
    public void Synchronize()
    {
        ObjectDisposedException.ThrowIf(Handle == 0, this);
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Handle), "cuStreamSynchronize");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Handle != 0)
        {
            CudaDriver.cuStreamDestroy(Handle);
            Handle = 0;
        }
    }
}

/// <summary>A CUDA event, for timing work on the GPU (cuEventElapsedTime) and for ordering streams.</summary>
public sealed unsafe class CudaEvent : IDisposable
{
    internal CudaEvent(CudaAccelerator accelerator)
    {
        Accelerator = accelerator;
        nint handle;
        CudaDriver.Check(CudaDriver.cuEventCreate(&handle, 0), "cuEventCreate");
        Handle = handle;
    }

    /// <summary>The accelerator the event belongs to.</summary>
    public CudaAccelerator Accelerator { get; }

    internal nint Handle { get; private set; }

    /// <summary>Marks the point in <paramref name="stream"/> (the default stream when null) that the event completes at.</summary>
    /// <param name="stream">The stream to record in.</param>
    public void Record(CudaStream? stream = null)
    {
        ObjectDisposedException.ThrowIf(Handle == 0, this);
        CudaDriver.Check(CudaDriver.cuEventRecord(Handle, stream?.Handle ?? 0), "cuEventRecord");
    }

    /// <summary>Waits until the event has completed.</summary>
    public void Synchronize() => CudaDriver.Check(CudaDriver.cuEventSynchronize(Handle), "cuEventSynchronize");

    /// <summary>GPU time between two recorded, completed events, in milliseconds (about 0.5 µs resolution).</summary>
    /// <param name="start">The earlier event.</param>
    /// <param name="end">The later event.</param>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        float ms;
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(&ms, start.Handle, end.Handle), "cuEventElapsedTime");
        return ms;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Handle != 0)
        {
            CudaDriver.cuEventDestroy(Handle);
            Handle = 0;
        }
    }
}
