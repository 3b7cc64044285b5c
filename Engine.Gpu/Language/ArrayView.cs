using System.Runtime.CompilerServices;

namespace Engine.Gpu;

/// <summary>
/// A typed window onto memory a kernel may read and write: global memory of an accelerator buffer, or
/// shared memory from <see cref="SharedMemory"/>. Outside kernels it is an ordinary pointer and length,
/// so the same code runs as plain C# (see <see cref="ClrKernelRunner"/>).
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly unsafe struct ArrayView<T> where T : unmanaged
{
    private readonly T* _pointer;
    private readonly int _length;

    /// <summary>Creates a view of <paramref name="length"/> elements at <paramref name="pointer"/>.</summary>
    /// <param name="pointer">The first element; the memory must stay valid and pinned while the view is used.</param>
    /// <param name="length">The number of elements.</param>
    public ArrayView(T* pointer, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _pointer = pointer;
        _length = length;
    }

    /// <summary>The number of elements.</summary>
    public int Length => _length;

    /// <summary>The address of the first element (host code only).</summary>
    public T* Pointer => _pointer;

    /// <summary>
    /// The element at <paramref name="index"/>. Bounds are checked on the CPU accelerator (the error names
    /// the kernel, the thread and the index) and not on the GPU.
    /// </summary>
    /// <param name="index">A zero-based element index.</param>
    public ref T this[int index]
    {
        [Intrinsic(IntrinsicKind.ViewElement)]
        get
        {
            if ((uint)index >= (uint)_length)
            {
                throw new IndexOutOfRangeException($"Index {index} is outside the view of length {_length}.");
            }
            return ref _pointer[index];
        }
    }

    /// <summary>The <paramref name="length"/> elements starting at <paramref name="start"/>.</summary>
    /// <param name="start">The first element of the sub-view.</param>
    /// <param name="length">The number of elements of the sub-view.</param>
    [Intrinsic(IntrinsicKind.ViewSubView)]
    public ArrayView<T> SubView(int start, int length)
    {
        if (start < 0 || length < 0 || (long)start + length > _length)
        {
            throw new ArgumentOutOfRangeException(
                nameof(start), $"SubView({start}, {length}) does not fit in a view of length {_length}.");
        }
        return new ArrayView<T>(_pointer + start, length);
    }

    /// <summary>
    /// The same bytes seen as elements of type <typeparamref name="TOther"/>; the length is the byte
    /// length divided by the new element size, rounded down.
    /// </summary>
    /// <typeparam name="TOther">The new element type.</typeparam>
    [Intrinsic(IntrinsicKind.ViewCast)]
    public ArrayView<TOther> Cast<TOther>() where TOther : unmanaged =>
        new((TOther*)_pointer, (int)((long)_length * sizeof(T) / sizeof(TOther)));

    /// <summary>The elements as a span (host code only).</summary>
    public Span<T> AsSpan() => new(_pointer, _length);

    /// <summary>The size of one element in bytes.</summary>
    public static int ElementSize => Unsafe.SizeOf<T>();

    /// <inheritdoc/>
    public override string ToString() => $"ArrayView<{typeof(T).Name}>[{_length}]";
}
