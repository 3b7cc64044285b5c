using System.Reflection;

namespace Engine.Gpu.Frontend;

/// <summary>
/// The precise <c>Math</c>/<c>MathF</c> transcendentals, written as plain C# that the translator inlines
/// wherever a kernel calls one (like <see cref="SoftFloat"/> for float <c>%</c>). The code uses only what
/// every backend already lowers: + - * /, <c>Math.FusedMultiplyAdd</c> (PTX <c>fma.rn</c>, exact in the
/// interpreter), <c>Math.Round</c> (<c>cvt.rni</c>), bit casts, integer ops, comparisons and a <c>switch</c>;
/// no arrays (the bits of 2/pi that Payne-Hanek needs are constants picked by that switch).
/// Because the translator inlines it on every path, the CPU accelerator and the GPU compute the same
/// bits; those bits are held to ulp bounds against the CLR (docs/engine-gpu.md, "Device math"), not to
/// the CLR's own bits, which come from the platform's libm and differ between platforms anyway.
/// </summary>
/// <remarks>
/// The double functions reduce the argument with a constant split into parts whose products with the
/// reduction integer are exact under FMA (Cody-Waite; Payne-Hanek for sin/cos/tan from 2^50 on), keep
/// the reduced argument in two doubles where it matters, and finish with Taylor series truncated well
/// below half an ulp on the reduced range (the coefficients are the series' own, 1/n! and 1/n).
/// The float functions widen to double, call the double function and round once: at most 1 ulp.
/// </remarks>
internal static class DeviceMath
{
    // ln 2 in two parts (the second is the rounding error of the first); and with a 32-bit head, whose
    // product with any exponent (|k| < 2^11) is exact.
    private const double Ln2Hi = 0.6931471805599453, Ln2Lo = 2.3190468138462996e-17;
    private const double Ln2Head = 0.6931471803691238, Ln2Tail = 1.9082149292705877e-10;
    private const double InvLn2 = 1.4426950408889634, InvLn2Lo = 2.0355273740931033e-17;
    private const double InvLn10 = 0.4342944819032518, InvLn10Lo = 1.098319650216765e-17;
    // pi/2 in three doubles (each the rounding error of the sum before it), and 2/pi.
    private const double HalfPiA = 1.5707963267948966, HalfPiB = 6.123233995736766e-17, HalfPiC = -1.4973849048591698e-33;
    private const double TwoOverPi = 0.6366197723675814;
    private const double TwoThirdsHi = 0.6666666666666666, TwoThirdsLo = 3.700743415417188e-17;
    private const double Sqrt2 = 1.4142135623730951;
    /// <summary>From this |x| on sin/cos/tan reduce the argument with Payne-Hanek (ReduceLarge) instead of Cody-Waite.</summary>
    private const double ReductionLimit = 1125899906842624.0; // 2^50

    /// <summary>A value as an unevaluated sum of two doubles, Lo far below Hi.</summary>
    private struct Pair
    {
        public double Hi, Lo;
        /// <summary>An exponent (LogParts) or a quadrant (Reduce) that comes with the pair.</summary>
        public int K;

        public Pair(double hi, double lo, int k)
        {
            Hi = hi;
            Lo = lo;
            K = k;
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>2^k for -1022 &lt;= k &lt;= 1023.</summary>
    private static double Pow2(int k) => BitConverter.Int64BitsToDouble((long)(k + 1023) << 52);

    /// <summary>p * 2^k for p in [0.5, 2] and -1100 &lt;= k &lt;= 1100, with one rounding (into the subnormals too).</summary>
    private static double Scale(double p, int k)
    {
        if (k > 1023)
        {
            return p * Pow2(1023) * Pow2(k - 1023); // the first product is exact and finite; the second overflows if it must
        }
        if (k < -1022)
        {
            return p * Pow2(k + 1000) * Pow2(-1000); // exact, then one rounding into the subnormal range
        }
        return p * Pow2(k);
    }

    /// <summary>exp(r) - 1 for |r| &lt;= 0.35: Taylor to r^13 (the first term left out is below 2^-56 relative).</summary>
    private static double Expm1Kernel(double r)
    {
        double q = 1.0 / 6227020800.0;
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 479001600.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 39916800.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 3628800.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 362880.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 40320.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 5040.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 720.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 120.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 24.0);
        q = Math.FusedMultiplyAdd(q, r, 1.0 / 6.0);
        q = Math.FusedMultiplyAdd(q, r, 0.5);
        return Math.FusedMultiplyAdd(r * r, q, r);
    }

    /// <summary>exp(hi + lo) for -745.2 &lt;= hi &lt;= 709.8 and |lo| tiny next to ulp(hi).</summary>
    private static double ExpPair(double hi, double lo)
    {
        double k = Math.Round(hi * InvLn2);
        // hi - k*Ln2Hi is exact: both are multiples of 2^-54 here and the difference is below 1/2.
        double r = Math.FusedMultiplyAdd(-k, Ln2Hi, hi);
        r = Math.FusedMultiplyAdd(-k, Ln2Lo, r) + lo;
        return Scale(1.0 + Expm1Kernel(r), (int)k);
    }

    /// <summary>n / (d + c) with the sum d + c carried in two doubles and the quotient corrected once.</summary>
    private static double Quotient(double n, double d, double c)
    {
        double sum = d + c;
        double sv = sum - d;
        double se = (d - (sum - sv)) + (c - sv); // d + c = sum + se exactly
        double q = n / sum;
        return q + (Math.FusedMultiplyAdd(-q, sum, n) - q * se) / sum;
    }

    /// <summary>exp(x) - 1 for 0 &lt;= x &lt;= 45 (used by tanh and sinh).</summary>
    private static double Expm1Positive(double x)
    {
        if (x <= 1.125)
        {
            // No reduction here: 2^k (1 + e) - 1 would cost an ulp for k = 1 and 2. Taylor to x^21 instead
            // (the first term left out is below 2^-60 of the result).
            double q = 1.0 / 51090942171709440000.0;
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 2432902008176640000.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 121645100408832000.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 6402373705728000.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 355687428096000.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 20922789888000.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 1307674368000.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 87178291200.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 6227020800.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 479001600.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 39916800.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 3628800.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 362880.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 40320.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 5040.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 720.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 120.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 24.0);
            q = Math.FusedMultiplyAdd(q, x, 1.0 / 6.0);
            q = Math.FusedMultiplyAdd(q, x, 0.5);
            return Math.FusedMultiplyAdd(x * x, q, x);
        }
        double k = Math.Round(x * InvLn2);
        double r = Math.FusedMultiplyAdd(-k, Ln2Hi, x);
        r = Math.FusedMultiplyAdd(-k, Ln2Lo, r);
        double scale = Pow2((int)k);
        // 2^k (1 + e) - 1 = 2^k e + (2^k - 1): the first product and the bracket are exact, one rounding.
        return Math.FusedMultiplyAdd(scale, Expm1Kernel(r), scale - 1.0);
    }

    /// <summary>
    /// ln x for positive finite x, as k ln 2 + ln m with m in [sqrt(1/2), sqrt(2)], both parts to about
    /// 2^-100: ln m = 2 atanh(s), s = (m - 1)/(m + 1), with s, s^3 in two doubles.
    /// </summary>
    private static Pair LogParts(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int k = 0;
        if (bits < 0x0010_0000_0000_0000L)
        {
            x *= 18014398509481984.0; // 2^54: subnormals become normal
            bits = BitConverter.DoubleToInt64Bits(x);
            k = -54;
        }
        k += (int)(bits >> 52) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000F_FFFF_FFFF_FFFFL) | 0x3FF0_0000_0000_0000L);
        if (m > Sqrt2)
        {
            m *= 0.5;
            k++;
        }
        double f = m - 1.0; // exact
        double d = m + 1.0;
        double dv = d - m;
        double de = (m - (d - dv)) + (1.0 - dv); // m + 1 = d + de exactly
        double s = f / d;
        double sl = (Math.FusedMultiplyAdd(-s, d, f) - s * de) / d; // s + sl = f / (m + 1)
        double z = s * s;
        double ze = Math.FusedMultiplyAdd(s, s, -z) + 2.0 * s * sl;
        double c = s * z;
        double ce = Math.FusedMultiplyAdd(s, z, -c) + s * ze + sl * z; // c + ce = s^3
        double t3 = c * TwoThirdsHi;
        double t3e = Math.FusedMultiplyAdd(c, TwoThirdsHi, -t3) + c * TwoThirdsLo + ce * TwoThirdsHi;
        // 2 s^5/5 + 2 s^7/7 + ... + 2 s^27/27; |s| <= 0.1716, so the next term is below 2^-75 of ln m.
        double q = 2.0 / 27.0;
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 25.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 23.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 21.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 19.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 17.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 15.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 13.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 11.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 9.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 7.0);
        q = Math.FusedMultiplyAdd(q, z, 2.0 / 5.0);
        double tail = c * z * q;
        double h = 2.0 * s;
        double a = h + t3;
        double av = a - h;
        double ae = (h - (a - av)) + (t3 - av);
        double lo = ae + (2.0 * sl + t3e + tail);
        double hi = a + lo;
        return new Pair(hi, (a - hi) + lo, k);
    }

    /// <summary>ln x for positive finite x, in two doubles.</summary>
    private static Pair LogPair(double x)
    {
        Pair lm = LogParts(x);
        int k = lm.K;
        double kh = k * Ln2Head; // exact
        double a = kh + lm.Hi;
        double av = a - kh;
        double ae = (kh - (a - av)) + (lm.Hi - av);
        double lo = ae + lm.Lo + k * Ln2Tail;
        double hi = a + lo;
        return new Pair(hi, (a - hi) + lo, 0);
    }

    // ---------------------------------------------------------------- exp, log

    public static double Exp(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }
        if (x > 709.79)
        {
            return double.PositiveInfinity;
        }
        if (x < -745.2)
        {
            return 0.0;
        }
        return ExpPair(x, 0.0);
    }

    public static double Exp2(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }
        if (x >= 1024.0)
        {
            return double.PositiveInfinity;
        }
        if (x < -1076.0)
        {
            return 0.0;
        }
        double k = Math.Round(x);
        double f = x - k; // exact, |f| <= 1/2
        double t = f * Ln2Hi;
        double tl = Math.FusedMultiplyAdd(f, Ln2Hi, -t) + f * Ln2Lo;
        double e = Expm1Kernel(t);
        // exp(t + tl) - 1 = e + (1 + e) tl
        return Scale(1.0 + (e + Math.FusedMultiplyAdd(e, tl, tl)), (int)k);
    }

    public static double Log(double x)
    {
        if (!(x > 0.0) || x == double.PositiveInfinity)
        {
            // NaN stays NaN; +inf stays +inf; 0 gives -inf; negatives give NaN.
            return x == 0.0 ? double.NegativeInfinity : x > 0.0 || double.IsNaN(x) ? x : double.NaN;
        }
        return LogPair(x).Hi;
    }

    public static double Log2(double x)
    {
        if (!(x > 0.0) || x == double.PositiveInfinity)
        {
            return x == 0.0 ? double.NegativeInfinity : x > 0.0 || double.IsNaN(x) ? x : double.NaN;
        }
        Pair lm = LogParts(x);
        int k = lm.K;
        // k + ln(m) / ln 2, with ln(m) and 1/ln 2 in two doubles; exact powers of two give k exactly.
        double p = lm.Hi * InvLn2;
        double pe = Math.FusedMultiplyAdd(lm.Hi, InvLn2, -p) + lm.Hi * InvLn2Lo + lm.Lo * InvLn2;
        double kd = k;
        double a = kd + p;
        double av = a - kd;
        double ae = (kd - (a - av)) + (p - av);
        return a + (ae + pe);
    }

    public static double Log10(double x)
    {
        if (!(x > 0.0) || x == double.PositiveInfinity)
        {
            return x == 0.0 ? double.NegativeInfinity : x > 0.0 || double.IsNaN(x) ? x : double.NaN;
        }
        Pair l = LogPair(x);
        double p = l.Hi * InvLn10;
        double pe = Math.FusedMultiplyAdd(l.Hi, InvLn10, -p) + l.Hi * InvLn10Lo + l.Lo * InvLn10;
        return p + pe;
    }

    // ---------------------------------------------------------------- pow

    /// <summary>Whether a finite y is an odd integer.</summary>
    private static bool IsOddInteger(double y)
    {
        double ay = Math.Abs(y);
        if (ay >= 9007199254740992.0 || Math.Floor(y) != y)
        {
            return false; // beyond 2^53 every double is even
        }
        return ((long)ay & 1) != 0;
    }

    public static double Pow(double x, double y)
    {
        if (y == 0.0 || x == 1.0)
        {
            return 1.0; // even when the other operand is NaN, as IEEE 754 and the CLR say
        }
        if (double.IsNaN(x) || double.IsNaN(y))
        {
            return double.NaN;
        }
        double ax = Math.Abs(x);
        if (y == double.PositiveInfinity || y == double.NegativeInfinity)
        {
            if (ax == 1.0)
            {
                return 1.0;
            }
            return (ax > 1.0) == (y > 0.0) ? double.PositiveInfinity : 0.0;
        }
        bool odd = IsOddInteger(y);
        bool negate = x < 0.0 && odd;
        if (ax == 0.0 || ax == double.PositiveInfinity)
        {
            // |x|^y is 0 or infinity; the sign follows x when y is an odd integer.
            double magnitude = (ax == 0.0) == (y < 0.0) ? double.PositiveInfinity : 0.0;
            return odd && BitConverter.DoubleToInt64Bits(x) < 0 ? -magnitude : magnitude;
        }
        if (x < 0.0 && Math.Floor(y) != y)
        {
            return double.NaN; // a negative base to a non-integer power
        }
        Pair l = LogPair(ax);
        double th = y * l.Hi;
        double result;
        if (th > 709.79)
        {
            result = double.PositiveInfinity;
        }
        else if (th < -745.2)
        {
            result = 0.0;
        }
        else
        {
            double tl = Math.FusedMultiplyAdd(y, l.Hi, -th) + y * l.Lo;
            result = ExpPair(th, tl);
        }
        return negate ? -result : result;
    }

    // ---------------------------------------------------------------- sin, cos, tan

    /// <summary>
    /// x - q pi/2 in two doubles (Hi + Lo, |r| &lt;= pi/4 + a little) and the quadrant q mod 4 (K). Cody-Waite
    /// with pi/2 in three parts: x - k A is exact under FMA for |x| &lt; 2^50, k B is carried exactly
    /// (two-product) and k C rounded, so the reduced argument is good to about 2^-100 absolute. From 2^50
    /// on, where x - k A is no longer exact, Payne-Hanek (ReduceLarge) takes over: accurate for every double.
    /// </summary>
    private static Pair Reduce(double x)
    {
        if (Math.Abs(x) >= ReductionLimit)
        {
            return ReduceLarge(x);
        }
        double k = Math.Round(x * TwoOverPi);
        double r1 = Math.FusedMultiplyAdd(-k, HalfPiA, x); // exact
        double p = k * HalfPiB;
        double pe = Math.FusedMultiplyAdd(k, HalfPiB, -p);
        double r2 = r1 - p;
        double bv = r2 - r1;
        double e = (r1 - (r2 - bv)) + (-p - bv) - pe;
        e = Math.FusedMultiplyAdd(-k, HalfPiC, e);
        double r = r2 + e;
        return new Pair(r, (r2 - r) + e, (int)((long)k & 3));
    }

    /// <summary>
    /// Payne-Hanek reduction for |x| &gt;= 2^50: x = m 2^s with a 53-bit integer m, and x 2/pi mod 4 is m times a
    /// 192-bit window of the bits of 2/pi starting just where m 2^s times them stops being a multiple of 4.
    /// The window comes from the expansion of 2/pi written out below (19 words, enough for every double);
    /// the product is kept mod 2^192 in 32-bit limbs. Its top two bits are the quadrant, the next 128 the
    /// fraction, which times pi/2 (in two doubles) is the reduced argument to about 2^-100 relative.
    /// </summary>
    private static Pair ReduceLarge(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        int e = (int)(bits >> 52) - 1023; // >= 50: normal
        ulong m = (ulong)(bits & 0x000F_FFFF_FFFF_FFFFL) | 0x0010_0000_0000_0000ul;
        // |x| = m 2^(e-52); the first bit of 2/pi needed (0-based, the first after the point is 0) is e - 54.
        int idx = e - 54;
        int q = ((idx + 64) >> 6) - 1; // floor(idx / 64), idx >= -4
        int sh = idx - 64 * q;
        ulong d0, d1, d2, d3;
        switch (q)
        {
            case -1: d0 = 0; d1 = 0xA2F9_836E_4E44_1529ul; d2 = 0xFC27_57D1_F534_DDC0ul; d3 = 0xDB62_9599_3C43_9041ul; break;
            case 0: d0 = 0xA2F9_836E_4E44_1529ul; d1 = 0xFC27_57D1_F534_DDC0ul; d2 = 0xDB62_9599_3C43_9041ul; d3 = 0xFE51_63AB_DEBB_C561ul; break;
            case 1: d0 = 0xFC27_57D1_F534_DDC0ul; d1 = 0xDB62_9599_3C43_9041ul; d2 = 0xFE51_63AB_DEBB_C561ul; d3 = 0xB724_6E3A_424D_D2E0ul; break;
            case 2: d0 = 0xDB62_9599_3C43_9041ul; d1 = 0xFE51_63AB_DEBB_C561ul; d2 = 0xB724_6E3A_424D_D2E0ul; d3 = 0x0649_2EEA_09D1_921Cul; break;
            case 3: d0 = 0xFE51_63AB_DEBB_C561ul; d1 = 0xB724_6E3A_424D_D2E0ul; d2 = 0x0649_2EEA_09D1_921Cul; d3 = 0xFE1D_EB1C_B129_A73Eul; break;
            case 4: d0 = 0xB724_6E3A_424D_D2E0ul; d1 = 0x0649_2EEA_09D1_921Cul; d2 = 0xFE1D_EB1C_B129_A73Eul; d3 = 0xE882_35F5_2EBB_4484ul; break;
            case 5: d0 = 0x0649_2EEA_09D1_921Cul; d1 = 0xFE1D_EB1C_B129_A73Eul; d2 = 0xE882_35F5_2EBB_4484ul; d3 = 0xE99C_7026_B45F_7E41ul; break;
            case 6: d0 = 0xFE1D_EB1C_B129_A73Eul; d1 = 0xE882_35F5_2EBB_4484ul; d2 = 0xE99C_7026_B45F_7E41ul; d3 = 0x3991_D639_8353_39F4ul; break;
            case 7: d0 = 0xE882_35F5_2EBB_4484ul; d1 = 0xE99C_7026_B45F_7E41ul; d2 = 0x3991_D639_8353_39F4ul; d3 = 0x9C84_5F8B_BDF9_283Bul; break;
            case 8: d0 = 0xE99C_7026_B45F_7E41ul; d1 = 0x3991_D639_8353_39F4ul; d2 = 0x9C84_5F8B_BDF9_283Bul; d3 = 0x1FF8_97FF_DE05_980Ful; break;
            case 9: d0 = 0x3991_D639_8353_39F4ul; d1 = 0x9C84_5F8B_BDF9_283Bul; d2 = 0x1FF8_97FF_DE05_980Ful; d3 = 0xEF2F_118B_5A0A_6D1Ful; break;
            case 10: d0 = 0x9C84_5F8B_BDF9_283Bul; d1 = 0x1FF8_97FF_DE05_980Ful; d2 = 0xEF2F_118B_5A0A_6D1Ful; d3 = 0x6D36_7ECF_27CB_09B7ul; break;
            case 11: d0 = 0x1FF8_97FF_DE05_980Ful; d1 = 0xEF2F_118B_5A0A_6D1Ful; d2 = 0x6D36_7ECF_27CB_09B7ul; d3 = 0x4F46_3F66_9E5F_EA2Dul; break;
            case 12: d0 = 0xEF2F_118B_5A0A_6D1Ful; d1 = 0x6D36_7ECF_27CB_09B7ul; d2 = 0x4F46_3F66_9E5F_EA2Dul; d3 = 0x7527_BAC7_EBE5_F17Bul; break;
            case 13: d0 = 0x6D36_7ECF_27CB_09B7ul; d1 = 0x4F46_3F66_9E5F_EA2Dul; d2 = 0x7527_BAC7_EBE5_F17Bul; d3 = 0x3D07_39F7_8A52_92EAul; break;
            case 14: d0 = 0x4F46_3F66_9E5F_EA2Dul; d1 = 0x7527_BAC7_EBE5_F17Bul; d2 = 0x3D07_39F7_8A52_92EAul; d3 = 0x6BFB_5FB1_1F8D_5D08ul; break;
            case 15: d0 = 0x7527_BAC7_EBE5_F17Bul; d1 = 0x3D07_39F7_8A52_92EAul; d2 = 0x6BFB_5FB1_1F8D_5D08ul; d3 = 0x5603_3046_FC7B_6BABul; break;
            default: d0 = 0; d1 = 0; d2 = 0; d3 = 0; break;
        }
        // The window, most significant word first; (d >> 1) >> (63 - sh) is d >> (64 - sh), also for sh = 0.
        ulong a = (d0 << sh) | ((d1 >> 1) >> (63 - sh));
        ulong b = (d1 << sh) | ((d2 >> 1) >> (63 - sh));
        ulong c = (d2 << sh) | ((d3 >> 1) >> (63 - sh));
        // m times the window, mod 2^192, in little-endian 32-bit limbs. m1 < 2^21, so m1 w fits with room.
        ulong m0 = m & 0xFFFF_FFFFul, m1 = m >> 32;
        ulong w0 = c & 0xFFFF_FFFFul, w1 = c >> 32, w2 = b & 0xFFFF_FFFFul, w3 = b >> 32, w4 = a & 0xFFFF_FFFFul, w5 = a >> 32;
        ulong carry = (m0 * w0) >> 32; // the lowest limb itself is below every bit used
        ulong acc = carry + m0 * w1;
        ulong acc2 = (acc & 0xFFFF_FFFFul) + m1 * w0;
        ulong p1 = acc2 & 0xFFFF_FFFFul;
        carry = (acc >> 32) + (acc2 >> 32);
        acc = carry + m0 * w2;
        acc2 = (acc & 0xFFFF_FFFFul) + m1 * w1;
        ulong p2 = acc2 & 0xFFFF_FFFFul;
        carry = (acc >> 32) + (acc2 >> 32);
        acc = carry + m0 * w3;
        acc2 = (acc & 0xFFFF_FFFFul) + m1 * w2;
        ulong p3 = acc2 & 0xFFFF_FFFFul;
        carry = (acc >> 32) + (acc2 >> 32);
        acc = carry + m0 * w4;
        acc2 = (acc & 0xFFFF_FFFFul) + m1 * w3;
        ulong p4 = acc2 & 0xFFFF_FFFFul;
        carry = (acc >> 32) + (acc2 >> 32);
        acc = carry + m0 * w5;
        acc2 = (acc & 0xFFFF_FFFFul) + m1 * w4;
        ulong p5 = acc2 & 0xFFFF_FFFFul;
        // x 2/pi mod 4 = P / 2^190: the quadrant is bits 190-191, the fraction bits 62-189 (hi: 126-189).
        int quadrant = (int)(p5 >> 30);
        long hi = (long)((p5 << 34) | (p4 << 2) | (p3 >> 30));
        ulong lo = (p3 << 34) | (p2 << 2) | (p1 >> 30);
        if (hi < 0)
        {
            quadrant++; // a fraction of 1/2 or more is the next quadrant minus a negative fraction (hi as signed)
        }
        // f = hi 2^-64 + lo 2^-128 in two doubles, then f pi/2 in two doubles.
        double fh = (double)(hi >> 11) * 1.1102230246251565e-16; // 2^-53, exact
        double fl = ((double)((ulong)hi & 0x7FFul) * 18446744073709551616.0 + (double)lo) * 2.938735877055719e-39; // 2^64, 2^-128
        double f = fh + fl;
        double fe = (fh - f) + fl;
        double rh = f * HalfPiA;
        double rl = Math.FusedMultiplyAdd(f, HalfPiA, -rh) + (f * HalfPiB + fe * HalfPiA);
        double r = rh + rl;
        rl = (rh - r) + rl;
        if (x < 0.0)
        {
            return new Pair(-r, -rl, -quadrant & 3);
        }
        return new Pair(r, rl, quadrant & 3);
    }

    /// <summary>sin(r + rl) for |r| &lt;= 0.8: Taylor to r^17.</summary>
    private static double SinKernel(double r, double rl)
    {
        double z = r * r;
        double s = -1.0 / 355687428096000.0;
        s = Math.FusedMultiplyAdd(s, z, 1.0 / 1307674368000.0);
        s = Math.FusedMultiplyAdd(s, z, -1.0 / 6227020800.0);
        s = Math.FusedMultiplyAdd(s, z, 1.0 / 39916800.0);
        s = Math.FusedMultiplyAdd(s, z, -1.0 / 362880.0);
        s = Math.FusedMultiplyAdd(s, z, 1.0 / 5040.0);
        s = Math.FusedMultiplyAdd(s, z, -1.0 / 120.0);
        s = Math.FusedMultiplyAdd(s, z, 1.0 / 6.0);
        // sin(r) = r - r^3 s(z); the tail rl contributes rl cos(r) ~ rl (1 - z/2).
        double correction = Math.FusedMultiplyAdd(-0.5 * z, rl, rl);
        return r + Math.FusedMultiplyAdd(-r * z, s, correction);
    }

    /// <summary>cos(r + rl) for |r| &lt;= 0.8: Taylor to r^16, with 1 - r^2/2 kept exact-ish.</summary>
    private static double CosKernel(double r, double rl)
    {
        double z = r * r;
        double ze = Math.FusedMultiplyAdd(r, r, -z);
        double c = 1.0 / 20922789888000.0;
        c = Math.FusedMultiplyAdd(c, z, -1.0 / 87178291200.0);
        c = Math.FusedMultiplyAdd(c, z, 1.0 / 479001600.0);
        c = Math.FusedMultiplyAdd(c, z, -1.0 / 3628800.0);
        c = Math.FusedMultiplyAdd(c, z, 1.0 / 40320.0);
        c = Math.FusedMultiplyAdd(c, z, -1.0 / 720.0);
        c = Math.FusedMultiplyAdd(c, z, 1.0 / 24.0);
        double hz = 0.5 * z;
        double w = 1.0 - hz;
        // (1 - w) - hz is the rounding error of w; -ze/2 that of z; -r rl the first-order effect of rl.
        double small = ((1.0 - w) - hz) - Math.FusedMultiplyAdd(0.5, ze, r * rl);
        return w + Math.FusedMultiplyAdd(z * z, c, small);
    }

    public static double Sin(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 7.450580596923828e-9)
        {
            return x; // |x| < 2^-27, zeros and subnormals included: sin x = x to within 2^-56 relative
        }
        if (!(ax <= double.MaxValue))
        {
            return x - x; // NaN for NaN and the infinities
        }
        Pair red = Reduce(x);
        int q = red.K;
        double v = (q & 1) == 0 ? SinKernel(red.Hi, red.Lo) : CosKernel(red.Hi, red.Lo);
        return (q & 2) == 0 ? v : -v;
    }

    public static double Cos(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 7.450580596923828e-9)
        {
            return 1.0;
        }
        if (!(ax <= double.MaxValue))
        {
            return x - x;
        }
        Pair red = Reduce(x);
        int q = red.K;
        double v = (q & 1) == 0 ? CosKernel(red.Hi, red.Lo) : SinKernel(red.Hi, red.Lo);
        return ((q + 1) & 2) == 0 ? v : -v;
    }

    public static double Tan(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 7.450580596923828e-9)
        {
            return x;
        }
        if (!(ax <= double.MaxValue))
        {
            return x - x;
        }
        Pair red = Reduce(x);
        double s = SinKernel(red.Hi, red.Lo), c = CosKernel(red.Hi, red.Lo);
        return (red.K & 1) == 0 ? s / c : -c / s;
    }

    // ---------------------------------------------------------------- hyperbolic

    public static double Tanh(double x)
    {
        double ax = Math.Abs(x);
        if (!(ax >= 3.725290298461914e-9))
        {
            return x; // |x| < 2^-28 (tanh x = x to 2^-57), zeros and NaN
        }
        double t;
        if (ax > 22.0)
        {
            t = 1.0; // 1 - tanh(22) < 2^-63
        }
        else if (ax > 0.55)
        {
            t = 1.0 - 2.0 / (Exp(2.0 * ax) + 1.0);
        }
        else
        {
            double e = Expm1Positive(2.0 * ax);
            t = Quotient(e, e, 2.0);
        }
        return x < 0.0 ? -t : t;
    }

    public static double Sinh(double x)
    {
        double ax = Math.Abs(x);
        if (!(ax >= 3.725290298461914e-9))
        {
            return x;
        }
        double h;
        if (ax > 709.0)
        {
            double e = Exp(0.5 * ax); // e^x / 2 would overflow before sinh does
            h = 0.5 * e * e;
        }
        else if (ax > 22.0)
        {
            h = 0.5 * Exp(ax);
        }
        else
        {
            double e = Expm1Positive(ax);
            h = 0.5 * (e + Quotient(e, e, 1.0)); // (e^x - e^-x) / 2 with e = e^x - 1
        }
        return x < 0.0 ? -h : h;
    }

    public static double Cosh(double x)
    {
        double ax = Math.Abs(x);
        if (double.IsNaN(x))
        {
            return x;
        }
        if (ax > 709.0)
        {
            double e = Exp(0.5 * ax);
            return 0.5 * e * e;
        }
        if (ax > 22.0)
        {
            return 0.5 * Exp(ax);
        }
        double ex = Exp(ax);
        return 0.5 * ex + 0.5 / ex;
    }

    // ---------------------------------------------------------------- atan, atan2

    private const double AtanHalfHi = 0.4636476090008061, AtanHalfLo = 2.2698777452961687e-17;

    /// <summary>
    /// atan(t + te) for 0 &lt;= t &lt;= 1 as an unevaluated sum. Above 1/4, atan t = atan c + atan u with c = 1/2 or
    /// 1 and u = (t - c)/(1 + t c) (t - c is exact; the quotient is corrected once), so |u| &lt;= 1/4 and the
    /// Taylor series to u^27 leaves out less than 2^-56 of the result.
    /// </summary>
    private static Pair AtanCore(double t, double te)
    {
        double u = t, ul = te, baseHi = 0.0, baseLo = 0.0;
        if (t > 0.25)
        {
            double c = t > 0.75 ? 1.0 : 0.5;
            baseHi = t > 0.75 ? 0.5 * HalfPiA : AtanHalfHi;
            baseLo = t > 0.75 ? 0.5 * HalfPiB : AtanHalfLo;
            double d = 1.0 + t * c; // t c is exact
            u = Quotient(t - c, 1.0, t * c);
            ul = te * (1.0 + c * c) / (d * d); // the tail of t, through du/dt
        }
        double z = u * u;
        double p = -1.0 / 27.0;
        p = Math.FusedMultiplyAdd(p, z, 1.0 / 25.0);
        p = Math.FusedMultiplyAdd(p, z, -1.0 / 23.0);
        p = Math.FusedMultiplyAdd(p, z, 1.0 / 21.0);
        p = Math.FusedMultiplyAdd(p, z, -1.0 / 19.0);
        p = Math.FusedMultiplyAdd(p, z, 1.0 / 17.0);
        p = Math.FusedMultiplyAdd(p, z, -1.0 / 15.0);
        p = Math.FusedMultiplyAdd(p, z, 1.0 / 13.0);
        p = Math.FusedMultiplyAdd(p, z, -1.0 / 11.0);
        p = Math.FusedMultiplyAdd(p, z, 1.0 / 9.0);
        p = Math.FusedMultiplyAdd(p, z, -1.0 / 7.0);
        p = Math.FusedMultiplyAdd(p, z, 1.0 / 5.0);
        p = Math.FusedMultiplyAdd(p, z, -1.0 / 3.0);
        double small = Math.FusedMultiplyAdd(u * z, p, ul / (1.0 + z)); // atan u - u, plus the tail's effect
        double hi = baseHi + u;
        double hv = hi - baseHi;
        double he = (baseHi - (hi - hv)) + (u - hv); // baseHi + u = hi + he exactly
        return new Pair(hi, he + (baseLo + small), 0);
    }

    /// <summary>(aHi + aLo) - p as an unevaluated sum, the leading subtraction exact.</summary>
    private static Pair Minus(double aHi, double aLo, Pair p)
    {
        double s = aHi - p.Hi;
        double sv = s - aHi;
        double se = (aHi - (s - sv)) + (-p.Hi - sv);
        return new Pair(s, se + (aLo - p.Lo), 0);
    }

    public static double Atan(double x)
    {
        double ax = Math.Abs(x);
        if (!(ax >= 3.725290298461914e-9))
        {
            return x; // |x| < 2^-28 (atan x = x to 2^-57), zeros and NaN
        }
        double r;
        if (ax == double.PositiveInfinity)
        {
            r = HalfPiA;
        }
        else if (ax <= 1.0)
        {
            Pair a = AtanCore(ax, 0.0);
            r = a.Hi + a.Lo;
        }
        else
        {
            // atan x = pi/2 - atan(1/x), with 1/x in two doubles.
            double t = 1.0 / ax;
            double te = Math.FusedMultiplyAdd(-t, ax, 1.0) / ax;
            Pair a = Minus(HalfPiA, HalfPiB, AtanCore(t, te));
            r = a.Hi + a.Lo;
        }
        return x < 0.0 ? -r : r;
    }

    public static double Atan2(double y, double x)
    {
        if (double.IsNaN(x) || double.IsNaN(y))
        {
            return x + y;
        }
        double ax = Math.Abs(x), ay = Math.Abs(y);
        bool xNegative = BitConverter.DoubleToInt64Bits(x) < 0;
        double r;
        if (y == 0.0)
        {
            // +-0 towards the positive x axis (x = +0 included), +-pi towards the negative one (x = -0 included).
            return xNegative ? (y < 0.0 || BitConverter.DoubleToInt64Bits(y) < 0 ? -2.0 * HalfPiA : 2.0 * HalfPiA) : y;
        }
        if (ax == double.PositiveInfinity && ay == double.PositiveInfinity)
        {
            r = xNegative ? 1.5 * HalfPiA + 1.5 * HalfPiB : 0.5 * HalfPiA; // 3 pi/4 or pi/4
        }
        else if (ax == double.PositiveInfinity)
        {
            r = xNegative ? 2.0 * HalfPiA : 0.0;
        }
        else if (ay == double.PositiveInfinity || x == 0.0)
        {
            r = HalfPiA;
        }
        else
        {
            // atan of the smaller over the larger magnitude (at most 1, in two doubles), then the octant.
            bool steep = ay > ax;
            double num = steep ? ax : ay, den = steep ? ay : ax;
            if (num < 1.1830521861667747e-271 && den < 6.668014432879854e+240) // 2^-900, 2^800
            {
                num *= 1.6069380442589903e+60; // 2^200 on both: the quotient stays, its residual below stays normal
                den *= 1.6069380442589903e+60;
            }
            double t = num / den;
            // The quotient's rounding error, exact while normal; below 2^-1000 atan t is t and the tail is moot.
            double te = t < 9.332636185032189e-302 ? 0.0 : Math.FusedMultiplyAdd(-t, den, num) / den;
            Pair a = AtanCore(t, te);
            if (steep)
            {
                a = Minus(HalfPiA, HalfPiB, a);
            }
            if (xNegative)
            {
                a = Minus(2.0 * HalfPiA, 2.0 * HalfPiB, a);
            }
            r = a.Hi + a.Lo;
        }
        return y < 0.0 ? -r : r;
    }

    // ---------------------------------------------------------------- float: widen, compute, round once

    public static float Exp(float x) => (float)Exp((double)x);
    public static float Exp2(float x) => (float)Exp2((double)x);
    public static float Log(float x) => (float)Log((double)x);
    public static float Log2(float x) => (float)Log2((double)x);
    public static float Log10(float x) => (float)Log10((double)x);
    public static float Pow(float x, float y) => (float)Pow((double)x, (double)y);
    public static float Sin(float x) => (float)Sin((double)x);
    public static float Cos(float x) => (float)Cos((double)x);
    public static float Tan(float x) => (float)Tan((double)x);
    public static float Tanh(float x) => (float)Tanh((double)x);
    public static float Sinh(float x) => (float)Sinh((double)x);
    public static float Cosh(float x) => (float)Cosh((double)x);
    public static float Atan(float x) => (float)Atan((double)x);
    public static float Atan2(float y, float x) => (float)Atan2((double)y, (double)x);

    // ---------------------------------------------------------------- the translator's map

    private static readonly Dictionary<MethodBase, MethodInfo> Map = BuildMap();

    /// <summary>The C# body the translator inlines for a base-library transcendental, if this library has one.</summary>
    public static bool TryGet(MethodBase method, out MethodInfo body) => Map.TryGetValue(method, out body!);

    private static Dictionary<MethodBase, MethodInfo> BuildMap()
    {
        var map = new Dictionary<MethodBase, MethodInfo>();
        string[] names = ["Exp", "Exp2", "Log", "Log2", "Log10", "Pow", "Sin", "Cos", "Tan", "Tanh", "Sinh", "Cosh", "Atan", "Atan2"];
        foreach (Type t in new[] { typeof(float), typeof(double) })
        {
            foreach (string name in names)
            {
                Type[] ps = name is "Pow" or "Atan2" ? [t, t] : [t];
                MethodInfo body = typeof(DeviceMath).GetMethod(name, BindingFlags.Public | BindingFlags.Static, ps)!;
                // Math and MathF, and the generic-math statics on float and double (float.Exp2 and friends).
                foreach (Type host in new[] { typeof(Math), typeof(MathF), t })
                {
                    if (host.GetMethod(name, BindingFlags.Public | BindingFlags.Static, ps) is { } m && m.ReturnType == t)
                    {
                        map[m] = body;
                    }
                }
            }
        }
        return map;
    }
}
