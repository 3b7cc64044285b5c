namespace Engine.Gpu;

/// <summary>
/// A kernel did something wrong while running on the CPU accelerator: an out-of-range view index, a
/// divergent barrier, an integer division by zero. The message names the kernel, the thread and the
/// source location (method and IL offset).
/// </summary>
public sealed class KernelExecutionException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, where and on which thread.</param>
    public KernelExecutionException(string message) : base(message)
    {
    }
}
