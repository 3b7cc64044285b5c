namespace Engine.Gpu;

/// <summary>A CUDA driver call failed, or there is no usable driver or GPU.</summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="status">The CUresult, or -1 when the driver itself is missing.</param>
    /// <param name="message">The call, the driver's name for the error, and its description.</param>
    public CudaException(int status, string message) : base(message) => Status = status;

    /// <summary>The CUresult code (-1 when no driver is loaded).</summary>
    public int Status { get; }
}
