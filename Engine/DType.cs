namespace Engine;

/// <summary>The element type of a <see cref="Tensor"/>.</summary>
public enum DType
{
    /// <summary>IEEE 754 binary32: parameters, activations and gradients.</summary>
    Float32,
    /// <summary>IEEE 754 binary64: gradient checks and references.</summary>
    Float64,
    /// <summary>Brain float (8-bit exponent, 7-bit mantissa): storage and GPU operands.</summary>
    BFloat16,
    /// <summary>32-bit signed integers.</summary>
    Int32,
    /// <summary>64-bit signed integers: token ids and targets.</summary>
    Int64,
}

/// <summary>Facts about each <see cref="DType"/>.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.BFloat16 => 2,
        DType.Int32 => 4,
        DType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>True for the floating-point dtypes, the only ones that can carry gradients.</summary>
    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.Float32 or DType.Float64 or DType.BFloat16;

    /// <summary>The dtype that stores elements of the CLR type <typeparamref name="T"/>.</summary>
    public static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(ushort)) return DType.BFloat16;
        if (typeof(T) == typeof(int)) return DType.Int32;
        if (typeof(T) == typeof(long)) return DType.Int64;
        throw new NotSupportedException($"No tensor dtype stores {typeof(T).Name}; use float, double, int or long (bfloat16 tensors store raw ushort bits).");
    }

    internal static Type ClrType(this DType dtype) => dtype switch
    {
        DType.Float32 => typeof(float),
        DType.Float64 => typeof(double),
        DType.BFloat16 => typeof(ushort),
        DType.Int32 => typeof(int),
        DType.Int64 => typeof(long),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}
