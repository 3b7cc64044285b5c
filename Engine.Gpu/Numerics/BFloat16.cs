using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Numerics;

/// <summary>
/// The brain floating-point format: float32's sign and 8-bit exponent with a 7-bit mantissa, stored
/// in 16 bits. It lives in Engine.Gpu, the lowest layer, because kernels, tensors and checkpoints
/// all use it. Conversions from wider types round to nearest, ties to even, as IEEE 754 does:
/// infinities stay infinite, values past the largest finite one round to infinity, and NaN stays
/// NaN (made quiet, keeping its sign and its top payload bits).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IComparable, IFormattable
{
    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>The raw 16-bit pattern.</summary>
    public ushort RawValue => _bits;

    /// <summary>The value with the given bit pattern.</summary>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>The raw 16-bit pattern.</summary>
    public ushort ToBits() => _bits;

    /// <summary>+0.</summary>
    public static BFloat16 Zero => new(0x0000);
    /// <summary>1.</summary>
    public static BFloat16 One => new(0x3F80);
    /// <summary>A quiet NaN.</summary>
    public static BFloat16 NaN => new(0x7FC0);
    /// <summary>+∞.</summary>
    public static BFloat16 PositiveInfinity => new(0x7F80);
    /// <summary>−∞.</summary>
    public static BFloat16 NegativeInfinity => new(0xFF80);
    /// <summary>The smallest positive (subnormal) value, 2^−133 (like <see cref="float.Epsilon"/>, not the machine epsilon).</summary>
    public static BFloat16 Epsilon => new(0x0001);
    /// <summary>The largest finite value, (2 − 2^−7) · 2^127 ≈ 3.39e38.</summary>
    public static BFloat16 MaxValue => new(0x7F7F);
    /// <summary>The most negative finite value, −(2 − 2^−7) · 2^127.</summary>
    public static BFloat16 MinValue => new(0xFF7F);

    /// <summary>True for NaN.</summary>
    public static bool IsNaN(BFloat16 x) => (x._bits & 0x7FFF) > 0x7F80;
    /// <summary>True for ±∞.</summary>
    public static bool IsInfinity(BFloat16 x) => (x._bits & 0x7FFF) == 0x7F80;
    /// <summary>True for values that are neither NaN nor infinite.</summary>
    public static bool IsFinite(BFloat16 x) => (x._bits & 0x7F80) != 0x7F80;

    /// <summary>Rounds a float32 bit pattern to bfloat16, nearest-even; NaN is made quiet so truncation cannot turn it into ∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort RoundBits(uint f)
    {
        if ((f & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((f >> 16) | 0x0040);
        // Adding 0x7FFF plus the lowest kept bit rounds half-way cases to the even neighbour;
        // a carry out of the mantissa correctly bumps the exponent (up to ∞ at the top).
        uint lsb = (f >> 16) & 1;
        return (ushort)((f + 0x7FFF + lsb) >> 16);
    }

    /// <summary>Rounds to the nearest bfloat16 (ties to even).</summary>
    public static explicit operator BFloat16(float value) => new(RoundBits(BitConverter.SingleToUInt32Bits(value)));

    /// <summary>
    /// Rounds a double directly to the nearest bfloat16 (ties to even). Going through float first
    /// would round twice and can land on the wrong neighbour: 1 + 2^−8 + 2^−40 becomes the float
    /// 1 + 2^−8, an exact tie that then goes to 1, although the double is nearer 1 + 2^−7.
    /// </summary>
    public static explicit operator BFloat16(double value)
    {
        float f = (float)value;                       // nearest float (NaN stays NaN); fix the one double-rounding case below
        uint bits = BitConverter.SingleToUInt32Bits(f);
        // Float rounding is monotonic, so it can only mislead the second rounding by landing exactly
        // on a bfloat16 tie; the double was strictly on one side of it, so step the float that way.
        if ((bits & 0xFFFF) == 0x8000 && float.IsFinite(f) && (double)f != value)
            bits = (double)f < value == f > 0 ? bits + 1 : bits - 1;
        return new(RoundBits(bits));
    }

    /// <summary>Exact widening.</summary>
    public static implicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    /// <summary>Exact widening.</summary>
    public static explicit operator double(BFloat16 value) => (float)value;

    /// <summary>
    /// Rounds each float to bfloat16 (nearest-even, exactly as the cast does), with 512-, 256- or
    /// 128-bit integer SIMD where the hardware has it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void ConvertFromSingle(ReadOnlySpan<float> source, Span<BFloat16> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination holds {destination.Length} values but the source has {source.Length}.", nameof(destination));
        ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(source));
        ref ushort d = ref Unsafe.As<BFloat16, ushort>(ref MemoryMarshal.GetReference(destination));
        nuint n = (nuint)source.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
                Vector512.Narrow(Round(Vector512.LoadUnsafe(ref s, i)), Round(Vector512.LoadUnsafe(ref s, i + 16))).StoreUnsafe(ref d, i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
                Vector256.Narrow(Round(Vector256.LoadUnsafe(ref s, i)), Round(Vector256.LoadUnsafe(ref s, i + 8))).StoreUnsafe(ref d, i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
                Vector128.Narrow(Round(Vector128.LoadUnsafe(ref s, i)), Round(Vector128.LoadUnsafe(ref s, i + 4))).StoreUnsafe(ref d, i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = RoundBits(Unsafe.Add(ref s, i));
    }

    // The SIMD forms of RoundBits, lane by lane; each returns the bfloat16 in the low 16 bits of a lane.
    private static Vector512<uint> Round(Vector512<uint> f)
    {
        var isNaN = Vector512.GreaterThan(f & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        var rounded = (f + Vector512.Create(0x7FFFu) + ((f >> 16) & Vector512<uint>.One)) >> 16;
        return Vector512.ConditionalSelect(isNaN, (f | Vector512.Create(0x0040_0000u)) >> 16, rounded);
    }

    private static Vector256<uint> Round(Vector256<uint> f)
    {
        var isNaN = Vector256.GreaterThan(f & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        var rounded = (f + Vector256.Create(0x7FFFu) + ((f >> 16) & Vector256<uint>.One)) >> 16;
        return Vector256.ConditionalSelect(isNaN, (f | Vector256.Create(0x0040_0000u)) >> 16, rounded);
    }

    private static Vector128<uint> Round(Vector128<uint> f)
    {
        var isNaN = Vector128.GreaterThan(f & Vector128.Create(0x7FFF_FFFFu), Vector128.Create(0x7F80_0000u));
        var rounded = (f + Vector128.Create(0x7FFFu) + ((f >> 16) & Vector128<uint>.One)) >> 16;
        return Vector128.ConditionalSelect(isNaN, (f | Vector128.Create(0x0040_0000u)) >> 16, rounded);
    }

    /// <summary>Widens each bfloat16 to float (exact), with SIMD where the hardware has it.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void ConvertToSingle(ReadOnlySpan<BFloat16> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination holds {destination.Length} values but the source has {source.Length}.", nameof(destination));
        ref ushort s = ref Unsafe.As<BFloat16, ushort>(ref MemoryMarshal.GetReference(source));
        ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
        nuint n = (nuint)source.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, i));
                (lo << 16).StoreUnsafe(ref d, i);
                (hi << 16).StoreUnsafe(ref d, i + 16);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, i));
                (lo << 16).StoreUnsafe(ref d, i);
                (hi << 16).StoreUnsafe(ref d, i + 8);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref s, i));
                (lo << 16).StoreUnsafe(ref d, i);
                (hi << 16).StoreUnsafe(ref d, i + 4);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = (uint)Unsafe.Add(ref s, i) << 16;
    }

    /// <summary>Value equality as <see cref="float.Equals(float)"/> defines it: NaN equals NaN (so NaN keys work in dictionaries), −0 equals +0.</summary>
    public bool Equals(BFloat16 other) => ((float)this).Equals((float)other);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);
    /// <inheritdoc/>
    public override int GetHashCode() => ((float)this).GetHashCode();
    /// <summary>Orders as <see cref="float.CompareTo(float)"/> does: NaN first, then −∞ ... +∞; −0 and +0 compare equal.</summary>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo(other);
    /// <inheritdoc/>
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        BFloat16 other => CompareTo(other),
        _ => throw new ArgumentException($"Object must be of type {nameof(BFloat16)}.", nameof(obj)),
    };
    /// <summary>The value as float formats it (shortest round-trip form), in the invariant culture.</summary>
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);
    /// <summary>The value formatted as a float with <paramref name="format"/> and <paramref name="formatProvider"/>.</summary>
    public string ToString(string? format, IFormatProvider? formatProvider) => ((float)this).ToString(format, formatProvider);

    /// <summary>IEEE equality: NaN is unequal to everything, −0 equals +0.</summary>
    public static bool operator ==(BFloat16 a, BFloat16 b) => (float)a == (float)b;
    /// <summary>IEEE inequality (true when either is NaN).</summary>
    public static bool operator !=(BFloat16 a, BFloat16 b) => (float)a != (float)b;
    /// <summary>Less than (false with NaN).</summary>
    public static bool operator <(BFloat16 a, BFloat16 b) => (float)a < (float)b;
    /// <summary>Greater than (false with NaN).</summary>
    public static bool operator >(BFloat16 a, BFloat16 b) => (float)a > (float)b;
    /// <summary>Less than or equal (false with NaN).</summary>
    public static bool operator <=(BFloat16 a, BFloat16 b) => (float)a <= (float)b;
    /// <summary>Greater than or equal (false with NaN).</summary>
    public static bool operator >=(BFloat16 a, BFloat16 b) => (float)a >= (float)b;
}
