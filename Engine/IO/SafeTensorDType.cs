using Engine.Numerics;

namespace Engine.IO;

/// <summary>
/// Element types of the safetensors format. Each member's name is the string the format writes in
/// a header's <c>"dtype"</c> field (see <see cref="SafeTensorDTypeInfo.Name"/>).
/// </summary>
public enum SafeTensorDType
{
    /// <summary>Boolean, one byte (0 or 1).</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>8-bit float, 5 exponent and 2 mantissa bits.</summary>
    F8_E5M2,
    /// <summary>8-bit float, 4 exponent and 3 mantissa bits.</summary>
    F8_E4M3,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE 754 half precision.</summary>
    F16,
    /// <summary>Brain float 16 (float32's exponent, 7 mantissa bits).</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE 754 single precision.</summary>
    F32,
    /// <summary>IEEE 754 double precision.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
}

/// <summary>Facts about each <see cref="SafeTensorDType"/>: element size, header name, matching CLR type.</summary>
public static class SafeTensorDTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8 or SafeTensorDType.F8_E5M2 or SafeTensorDType.F8_E4M3 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.F64 or SafeTensorDType.I64 or SafeTensorDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };

    /// <summary>The string a safetensors header uses for <paramref name="dtype"/> (e.g. <c>"BF16"</c>).</summary>
    public static string Name(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL => "BOOL",
        SafeTensorDType.U8 => "U8",
        SafeTensorDType.I8 => "I8",
        SafeTensorDType.F8_E5M2 => "F8_E5M2",
        SafeTensorDType.F8_E4M3 => "F8_E4M3",
        SafeTensorDType.I16 => "I16",
        SafeTensorDType.U16 => "U16",
        SafeTensorDType.F16 => "F16",
        SafeTensorDType.BF16 => "BF16",
        SafeTensorDType.I32 => "I32",
        SafeTensorDType.U32 => "U32",
        SafeTensorDType.F32 => "F32",
        SafeTensorDType.F64 => "F64",
        SafeTensorDType.I64 => "I64",
        SafeTensorDType.U64 => "U64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };

    /// <summary>
    /// Parses a header's dtype string. Matching is exact and case-sensitive, as in the format's
    /// reference reader; numbers and lower-case spellings are rejected.
    /// </summary>
    public static bool TryParse(string? name, out SafeTensorDType dtype)
    {
        // Enum.TryParse would also accept "9" or "F32, I8"; a header must use the exact names.
        switch (name)
        {
            case "BOOL": dtype = SafeTensorDType.BOOL; return true;
            case "U8": dtype = SafeTensorDType.U8; return true;
            case "I8": dtype = SafeTensorDType.I8; return true;
            case "F8_E5M2": dtype = SafeTensorDType.F8_E5M2; return true;
            case "F8_E4M3": dtype = SafeTensorDType.F8_E4M3; return true;
            case "I16": dtype = SafeTensorDType.I16; return true;
            case "U16": dtype = SafeTensorDType.U16; return true;
            case "F16": dtype = SafeTensorDType.F16; return true;
            case "BF16": dtype = SafeTensorDType.BF16; return true;
            case "I32": dtype = SafeTensorDType.I32; return true;
            case "U32": dtype = SafeTensorDType.U32; return true;
            case "F32": dtype = SafeTensorDType.F32; return true;
            case "F64": dtype = SafeTensorDType.F64; return true;
            case "I64": dtype = SafeTensorDType.I64; return true;
            case "U64": dtype = SafeTensorDType.U64; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>
    /// The dtype that stores CLR elements of type <typeparamref name="T"/>: float, double, Half,
    /// <see cref="BFloat16"/>, bool, and the 8- to 64-bit integers.
    /// </summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> has no safetensors dtype.</exception>
    public static SafeTensorDType Of<T>() where T : unmanaged =>
        TryOf<T>(out var d) ? d : throw new NotSupportedException(
            $"No safetensors dtype stores {typeof(T).Name}; use float, double, Half, BFloat16, bool, byte, sbyte, short, ushort, int, uint, long or ulong.");

    internal static bool TryOf<T>(out SafeTensorDType dtype) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) dtype = SafeTensorDType.F32;
        else if (typeof(T) == typeof(double)) dtype = SafeTensorDType.F64;
        else if (typeof(T) == typeof(Half)) dtype = SafeTensorDType.F16;
        else if (typeof(T) == typeof(BFloat16)) dtype = SafeTensorDType.BF16;
        else if (typeof(T) == typeof(bool)) dtype = SafeTensorDType.BOOL;
        else if (typeof(T) == typeof(byte)) dtype = SafeTensorDType.U8;
        else if (typeof(T) == typeof(sbyte)) dtype = SafeTensorDType.I8;
        else if (typeof(T) == typeof(short)) dtype = SafeTensorDType.I16;
        else if (typeof(T) == typeof(ushort)) dtype = SafeTensorDType.U16;
        else if (typeof(T) == typeof(int)) dtype = SafeTensorDType.I32;
        else if (typeof(T) == typeof(uint)) dtype = SafeTensorDType.U32;
        else if (typeof(T) == typeof(long)) dtype = SafeTensorDType.I64;
        else if (typeof(T) == typeof(ulong)) dtype = SafeTensorDType.U64;
        else { dtype = default; return false; }
        return true;
    }
}
