namespace Engine.Gpu.Frontend;

/// <summary>
/// Operations the CLR defines and PTX has no instruction for, written as plain C# that the compiler
/// inlines where the operation appears: the same kernel language every user kernel is written in.
/// </summary>
internal static class SoftFloat
{
    /// <summary>
    /// <c>x % y</c> for floats, exactly as the CLR computes it (C's fmod: the result has the sign of x and
    /// is exact). Long division on the integer significands, 32 bits of quotient per step.
    /// </summary>
    public static float Remainder(float x, float y)
    {
        uint ux = BitConverter.SingleToUInt32Bits(x), uy = BitConverter.SingleToUInt32Bits(y);
        uint sign = ux & 0x8000_0000u;
        ux &= 0x7FFF_FFFFu;
        uy &= 0x7FFF_FFFFu;
        if (uy == 0 || ux >= 0x7F80_0000u || uy > 0x7F80_0000u)
        {
            return float.NaN; // y is zero or NaN, or x is infinite or NaN.
        }
        if (ux < uy)
        {
            return x; // |x| < |y|, y infinite included: x itself, signed zero included.
        }
        int ex = (int)(ux >> 23), ey = (int)(uy >> 23);
        ulong mx = ex == 0 ? ux : (ux & 0x7F_FFFFu) | 0x80_0000u;
        ulong my = ey == 0 ? uy : (uy & 0x7F_FFFFu) | 0x80_0000u;
        ex = ex == 0 ? 1 : ex;
        ey = ey == 0 ? 1 : ey;
        // |x| = mx * 2^(ex-150), |y| = my * 2^(ey-150); the remainder is (mx * 2^(ex-ey) mod my) * 2^(ey-150).
        ulong r = mx % my;
        int shift = ex - ey;
        while (shift > 0)
        {
            int step = shift < 32 ? shift : 32;
            r = (r << step) % my; // r < my < 2^24, so r << 32 fits in 64 bits.
            shift -= step;
        }
        // r < 2^24 converts exactly; the power of two is a normal double; the product is the exact result.
        double scaled = r * BitConverter.Int64BitsToDouble((long)(ey - 150 + 1023) << 52);
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits((float)scaled) | sign);
    }

    /// <summary><c>x % y</c> for doubles, exactly as the CLR computes it; 10 bits of quotient per step.</summary>
    public static double Remainder(double x, double y)
    {
        ulong ux = BitConverter.DoubleToUInt64Bits(x), uy = BitConverter.DoubleToUInt64Bits(y);
        ulong sign = ux & 0x8000_0000_0000_0000ul;
        ux &= 0x7FFF_FFFF_FFFF_FFFFul;
        uy &= 0x7FFF_FFFF_FFFF_FFFFul;
        if (uy == 0 || ux >= 0x7FF0_0000_0000_0000ul || uy > 0x7FF0_0000_0000_0000ul)
        {
            return double.NaN;
        }
        if (ux < uy)
        {
            return x;
        }
        int ex = (int)(ux >> 52), ey = (int)(uy >> 52);
        ulong mx = ex == 0 ? ux : (ux & 0xF_FFFF_FFFF_FFFFul) | 0x10_0000_0000_0000ul;
        ulong my = ey == 0 ? uy : (uy & 0xF_FFFF_FFFF_FFFFul) | 0x10_0000_0000_0000ul;
        ex = ex == 0 ? 1 : ex;
        ey = ey == 0 ? 1 : ey;
        ulong r = mx % my;
        int shift = ex - ey;
        while (shift > 0)
        {
            int step = shift < 10 ? shift : 10;
            r = (r << step) % my; // r < my < 2^53, so r << 10 fits in 64 bits.
            shift -= step;
        }
        // r * 2^(ey-1075) is exactly representable; build the power of two as a subnormal where it must be.
        int power = ey - 1075;
        double scale = power >= -1022
            ? BitConverter.Int64BitsToDouble((long)(power + 1023) << 52)
            : BitConverter.Int64BitsToDouble(1L << (power + 1074));
        double result = r * scale;
        return BitConverter.UInt64BitsToDouble(BitConverter.DoubleToUInt64Bits(result) | sign);
    }
}
