using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Engine.Numerics;

namespace Engine.IO;

/// <summary>
/// One named tensor of a safetensors file: its dtype, its shape and its bytes, little-endian and
/// row-major (C order), exactly as they sit in the file.
/// </summary>
public sealed class SafeTensorEntry
{
    private readonly long[] _shape;

    /// <summary>Creates an entry from raw bytes.</summary>
    /// <param name="name">The tensor's name, e.g. <c>transformer.wte.weight</c>; not empty, not <c>__metadata__</c>.</param>
    /// <param name="dtype">The element type of <paramref name="data"/>.</param>
    /// <param name="shape">The dimensions, outermost first; empty for a scalar. The array is copied.</param>
    /// <param name="data">Exactly <c>product(shape) * dtype.SizeOf()</c> bytes; kept, not copied.</param>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the byte count does not match.</exception>
    public SafeTensorEntry(string name, SafeTensorDType dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == SafeTensors.MetadataKey)
            throw new ArgumentException($"'{SafeTensors.MetadataKey}' is reserved for the file's metadata and cannot name a tensor.", nameof(name));
        Name = name;
        DType = dtype;
        _shape = (long[])shape.Clone();
        ElementCount = CountElements(_shape, out var error);
        if (error is not null) throw new ArgumentException($"Tensor '{name}': {error}", nameof(shape));
        long expected = ElementCount * dtype.SizeOf();   // cannot overflow: CountElements keeps count * 8 in range
        if (data.Length != expected)
            throw new ArgumentException($"Tensor '{name}' of shape {FormatShape(_shape)} and dtype {dtype.Name()} needs {expected} bytes, got {data.Length}.", nameof(data));
        Data = data;
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The dimensions, outermost first (empty for a scalar). A copy: changing it changes nothing.</summary>
    public long[] Shape => (long[])_shape.Clone();

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank => _shape.Length;

    /// <summary>The raw little-endian bytes, row-major.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The number of elements: the product of the shape (1 for a scalar, 0 if any dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>
    /// The values converted to float: F32 as is, BF16 and F16 exactly, F64 rounded to nearest.
    /// </summary>
    /// <exception cref="InvalidOperationException">The dtype is not F32, F64, F16 or BF16.</exception>
    public float[] ToSingleArray()
    {
        var result = new float[ElementCount];
        CopyToSingle(result);
        return result;
    }

    /// <summary>Converts the values to float into <paramref name="destination"/> (see <see cref="ToSingleArray"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> does not hold exactly <see cref="ElementCount"/> values.</exception>
    /// <exception cref="InvalidOperationException">The dtype is not F32, F64, F16 or BF16.</exception>
    public void CopyToSingle(Span<float> destination)
    {
        if (destination.Length != ElementCount)
            throw new ArgumentException($"Tensor '{Name}' has {ElementCount} elements but the destination holds {destination.Length}.", nameof(destination));
        var bytes = Data.Span;
        switch (DType)
        {
            case SafeTensorDType.F32:
                bytes.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case SafeTensorDType.BF16:
                BFloat16.ConvertToSingle(MemoryMarshal.Cast<byte, BFloat16>(bytes), destination);
                break;
            case SafeTensorDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), destination);
                break;
            case SafeTensorDType.F64:
                var doubles = MemoryMarshal.Cast<byte, double>(bytes);
                for (int i = 0; i < doubles.Length; i++) destination[i] = (float)doubles[i];
                break;
            default:
                throw new InvalidOperationException(
                    $"Tensor '{Name}' holds {DType.Name()} values, not floating point; read it with ToArray<T>() for the matching integer type.");
        }
    }

    /// <summary>
    /// The values as an array of <typeparamref name="T"/>, which must be the CLR type of the dtype
    /// (float for F32, long for I64, <see cref="BFloat16"/> for BF16, ...; see <see cref="SafeTensorDTypeInfo.Of{T}"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the dtype's element type.</exception>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (!SafeTensorDTypeInfo.TryOf<T>(out var want) || want != DType)
            throw new InvalidOperationException(
                $"Tensor '{Name}' holds {DType.Name()} values; ToArray<{typeof(T).Name}>() needs a tensor of that element type"
                + (DType is SafeTensorDType.F32 or SafeTensorDType.F64 or SafeTensorDType.F16 or SafeTensorDType.BF16 ? " (ToSingleArray() converts any float dtype)." : "."));
        // Copy through bytes rather than casting in place: the file's bytes need not be aligned for T.
        var result = new T[ElementCount];
        Data.Span.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>An entry holding <paramref name="data"/>, stored as F32 (exactly) or rounded to BF16, F16 or F64.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The dimensions; their product must equal the number of values.</param>
    /// <param name="storeAs">F32 (default), BF16 (round to nearest even), F16 or F64.</param>
    /// <exception cref="ArgumentException"><paramref name="storeAs"/> is not a float dtype, or the shape does not match.</exception>
    public static SafeTensorEntry FromSingle(string name, ReadOnlySpan<float> data, long[] shape, SafeTensorDType storeAs = SafeTensorDType.F32)
    {
        byte[] bytes;
        switch (storeAs)
        {
            case SafeTensorDType.F32:
                bytes = MemoryMarshal.AsBytes(data).ToArray();
                break;
            case SafeTensorDType.BF16:
                bytes = new byte[checked(data.Length * 2)];
                BFloat16.ConvertFromSingle(data, MemoryMarshal.Cast<byte, BFloat16>(bytes.AsSpan()));
                break;
            case SafeTensorDType.F16:
                bytes = new byte[checked(data.Length * 2)];
                TensorPrimitives.ConvertToHalf(data, MemoryMarshal.Cast<byte, Half>(bytes.AsSpan()));
                break;
            case SafeTensorDType.F64:
                bytes = new byte[checked(data.Length * 8)];
                var doubles = MemoryMarshal.Cast<byte, double>(bytes.AsSpan());
                for (int i = 0; i < data.Length; i++) doubles[i] = data[i];
                break;
            default:
                throw new ArgumentException($"Floats are stored as F32, BF16, F16 or F64, not {storeAs.Name()}.", nameof(storeAs));
        }
        return new SafeTensorEntry(name, storeAs, shape, bytes);
    }

    /// <summary>An entry holding a copy of <paramref name="data"/> under the dtype of <typeparamref name="T"/> (see <see cref="SafeTensorDTypeInfo.Of{T}"/>).</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> has no safetensors dtype.</exception>
    /// <exception cref="ArgumentException">The shape's product is not the number of values.</exception>
    public static SafeTensorEntry FromArray<T>(string name, ReadOnlySpan<T> data, long[] shape) where T : unmanaged =>
        new(name, SafeTensorDTypeInfo.Of<T>(), shape, MemoryMarshal.AsBytes(data).ToArray());

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType.Name()} {FormatShape(_shape)}";

    internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>
    /// The product of the dimensions, or an error when a dimension is negative or the byte count
    /// would not fit a long (so that later multiplications by an element size cannot overflow).
    /// </summary>
    internal static long CountElements(ReadOnlySpan<long> shape, out string? error)
    {
        error = null;
        bool empty = false;
        foreach (var d in shape)
        {
            if (d < 0) { error = $"shape {FormatShape(shape.ToArray())} has a negative dimension."; return 0; }
            empty |= d == 0;
        }
        if (empty) return 0;   // an empty tensor, however large its other dimensions
        long count = 1;
        foreach (var d in shape)
        {
            if (count > long.MaxValue / 8 / d) { error = $"shape {FormatShape(shape.ToArray())} has more elements than any file can hold."; return 0; }
            count *= d;
        }
        return count;
    }
}
