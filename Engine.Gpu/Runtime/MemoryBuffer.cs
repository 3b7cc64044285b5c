namespace Engine.Gpu;

/// <summary>
/// Memory owned by an accelerator, holding <see cref="Length"/> elements of <typeparamref name="T"/>.
/// Dispose it to free the memory; kernels see it through <see cref="View"/>.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public abstract class MemoryBuffer<T> : IDisposable where T : unmanaged
{
    private bool _disposed;

    /// <summary>Creates the buffer's bookkeeping.</summary>
    /// <param name="accelerator">The owner.</param>
    /// <param name="length">The number of elements.</param>
    protected MemoryBuffer(Accelerator accelerator, int length)
    {
        Accelerator = accelerator;
        Length = length;
    }

    /// <summary>The accelerator that owns the memory.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>The size in bytes.</summary>
    public long LengthInBytes => (long)Length * ArrayView<T>.ElementSize;

    /// <summary>The view kernels use to read and write the buffer.</summary>
    public ArrayView<T> View
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return GetView();
        }
    }

    /// <summary>Copies <paramref name="source"/> (at most <see cref="Length"/> elements) to the start of the buffer.</summary>
    /// <param name="source">The host data.</param>
    public void CopyFromCPU(ReadOnlySpan<T> source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (source.Length > Length)
        {
            throw new ArgumentException($"Cannot copy {source.Length} elements into a buffer of {Length}.", nameof(source));
        }
        CopyFromHost(source);
    }

    /// <summary>Copies the start of the buffer into <paramref name="destination"/>.</summary>
    /// <param name="destination">Receives min(destination.Length, Length) elements.</param>
    public void CopyToCPU(Span<T> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CopyToHost(destination[..Math.Min(destination.Length, Length)]);
    }

    /// <summary>
    /// Copies raw bytes to the start of the buffer (any element type on the host side: a tensor's storage
    /// of 7 floats is 28 bytes, which no span of 8-byte words can describe).
    /// </summary>
    /// <param name="source">At most <see cref="LengthInBytes"/> bytes.</param>
    public void CopyBytesFromCPU(ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (source.Length > LengthInBytes)
        {
            throw new ArgumentException($"Cannot copy {source.Length} bytes into a buffer of {LengthInBytes}.", nameof(source));
        }
        CopyBytesFromHost(source);
    }

    /// <summary>Copies the first <c>destination.Length</c> bytes of the buffer to the host.</summary>
    /// <param name="destination">At most <see cref="LengthInBytes"/> bytes.</param>
    public void CopyBytesToCPU(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.Length > LengthInBytes)
        {
            throw new ArgumentException($"Cannot copy {destination.Length} bytes out of a buffer of {LengthInBytes}.", nameof(destination));
        }
        CopyBytesToHost(destination);
    }

    /// <summary>The whole buffer, copied into a new array.</summary>
    public T[] GetAsArray()
    {
        var result = new T[Length];
        CopyToCPU(result);
        return result;
    }

    /// <summary>The view of the memory, without the disposal check.</summary>
    protected abstract ArrayView<T> GetView();

    /// <summary>Copies host data to the buffer; the length is already checked.</summary>
    /// <param name="source">The host data.</param>
    protected abstract void CopyFromHost(ReadOnlySpan<T> source);

    /// <summary>Copies the buffer to host memory; the length is already checked.</summary>
    /// <param name="destination">The host memory.</param>
    protected abstract void CopyToHost(Span<T> destination);

    /// <summary>Copies host bytes to the start of the buffer; the length is already checked.</summary>
    /// <param name="source">The host bytes.</param>
    protected abstract void CopyBytesFromHost(ReadOnlySpan<byte> source);

    /// <summary>Copies the start of the buffer to host bytes; the length is already checked.</summary>
    /// <param name="destination">The host bytes.</param>
    protected abstract void CopyBytesToHost(Span<byte> destination);

    /// <summary>Frees the memory.</summary>
    protected abstract void Free();

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Free();
        }
        GC.SuppressFinalize(this);
    }
}
