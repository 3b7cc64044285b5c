using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Numerics;

/// <summary>
/// The brain floating-point format: float32's sign and 8-bit exponent with a 7-bit mantissa, stored
/// in 16 bits. It lives in Engine.Gpu, the lowest layer, because kernels, tensors and checkpoints
/// all use it. Conversions from wider types round to nearest, ties to even; NaN stays NaN.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>
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
    /// <summary>The smallest positive (subnormal) value, 2^−133.</summary>
    public static BFloat16 Epsilon => new(0x0001);
    /// <summary>The largest finite value, (2 − 2^−7) · 2^127.</summary>
    public static BFloat16 MaxValue => new(0x7F7F);
    /// <summary>The most negative finite value.</summary>
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

    /// <summary>Rounds a double directly to bfloat16 (ties to even), not through float, which would round twice.</summary>
    public static explicit operator BFloat16(double value)
    {
        if (double.IsNaN(value)) return NaN;
        float f = (float)value;                       // nearest float; fix the rare double-rounding case below
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if ((bits & 0xFFFF) == 0x8000 && float.IsFinite(f) && (double)f != value)
        {
            // f sits exactly half-way between two bfloat16s only because float rounding put it there:
            // the double was on one side, so round towards it instead of to even.
            bits = (double)f < value == f > 0 ? bits + 1 : bits - 1;
        }
        return new(RoundBits(bits));
    }

    /// <summary>Exact widening.</summary>
    public static implicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    /// <summary>Exact widening.</summary>
    public static explicit operator double(BFloat16 value) => (float)value;

    /// <summary>Rounds each float to bfloat16 (vectorised).</summary>
    public static void ConvertFromSingle(ReadOnlySpan<float> source, Span<BFloat16> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination holds {destination.Length} values but the source has {source.Length}.", nameof(destination));
        var src = MemoryMarshal.Cast<float, uint>(source);
        var dst = MemoryMarshal.Cast<BFloat16, ushort>(destination);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bias = Vector256.Create(0x7FFFu);
            var one = Vector256.Create(1u);
            var absMask = Vector256.Create(0x7FFF_FFFFu);
            var inf = Vector256.Create(0x7F80_0000u);
            var quiet = Vector256.Create(0x0040_0000u);
            for (; i + 16 <= src.Length; i += 16)
            {
                var a = Vector256.Create(src.Slice(i, 8));
                var b = Vector256.Create(src.Slice(i + 8, 8));
                a = Round(a); b = Round(b);
                Vector256.Narrow(a, b).CopyTo(dst.Slice(i, 16));
            }

            Vector256<uint> Round(Vector256<uint> f)
            {
                var isNaN = Vector256.GreaterThan(f & absMask, inf);
                var rounded = (f + bias + ((f >> 16) & one)) >> 16;
                var nan = (f | quiet) >> 16;
                return Vector256.ConditionalSelect(isNaN, nan, rounded);
            }
        }
        for (; i < src.Length; i++) dst[i] = RoundBits(src[i]);
    }

    /// <summary>Widens each bfloat16 to float (exact, vectorised).</summary>
    public static void ConvertToSingle(ReadOnlySpan<BFloat16> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"Destination holds {destination.Length} values but the source has {source.Length}.", nameof(destination));
        var src = MemoryMarshal.Cast<BFloat16, ushort>(source);
        var dst = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= src.Length; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(src.Slice(i, 16)));
                (lo << 16).CopyTo(dst.Slice(i, 8));
                (hi << 16).CopyTo(dst.Slice(i + 8, 8));
            }
        }
        for (; i < src.Length; i++) dst[i] = (uint)src[i] << 16;
    }

    /// <summary>Value equality as <see cref="float.Equals(float)"/> defines it: NaN equals NaN, −0 equals +0.</summary>
    public bool Equals(BFloat16 other) => ((float)this).Equals((float)other);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);
    /// <inheritdoc/>
    public override int GetHashCode() => ((float)this).GetHashCode();
    /// <inheritdoc/>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo(other);
    /// <inheritdoc/>
    public override string ToString() => ((float)this).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>IEEE equality: NaN is unequal to everything, −0 equals +0.</summary>
    public static bool operator ==(BFloat16 a, BFloat16 b) => (float)a == (float)b;
    /// <summary>IEEE inequality.</summary>
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
