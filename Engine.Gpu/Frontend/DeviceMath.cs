namespace Engine.Gpu.Frontend;

/// <summary>
/// Precise transcendental functions as plain C#, which the translator inlines wherever a kernel calls
/// <c>MathF.Exp</c>, <c>Log</c>, <c>Log2</c>, <c>Sin</c>, <c>Cos</c>, <c>Tan</c>, <c>Tanh</c>, <c>Pow</c> or
/// <c>Math.Exp</c>, <c>Math.Log</c>, <c>Math.Tanh</c>: PTX has only approximate ones (<see cref="FastMath"/>), so, like the
/// float remainder (<see cref="SoftFloat"/>), the device gets code of its own. The same code runs on the
/// CPU accelerator, so both give the same bits (the CLR's own results may differ in the last place).
/// </summary>
/// <remarks>
/// The float functions compute in double, with polynomials accurate to about 1e-12, and round once, so
/// they are within 1 ulp of the exact result (measured: <c>DeviceMathTests</c>); sin, cos and tan reduce
/// their argument exactly enough for every float (a three-part π/2 below 2^25, the bits of 2/π above).
/// The double exp, log and tanh use Cody–Waite reduction, Taylor and atanh series to double precision
/// and expm1 for tanh: within 2, 3 and 4 ulp of the CLR (1, 2 and 3 seen). Only the degree of each series is a choice made here; its coefficients are the series' own.
/// </remarks>
internal static class DeviceMath
{
    private const double Ln2Hi = 6.93147180369123816490e-01; // ln 2 to 32 bits: n·Ln2Hi is exact for |n| < 2^21
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double Log2E = 1.44269504088896340736;
    private const double TwoOverPi = 0.63661977236758134308;
    private const double PiOver2Hi = 1.57079632673412561417e+00; // π/2 in three parts of 33 bits each
    private const double PiOver2Mid = 6.07710050630396597660e-11;
    private const double PiOver2Lo = 2.02226624879595063154e-21;
    private const double Sqrt2 = 1.41421356237309504880;

    // ---- float, computed in double ----

    public static float Exp(float x)
    {
        if (float.IsNaN(x))
        {
            return x;
        }
        if (x > 89f)
        {
            return float.PositiveInfinity;
        }
        if (x < -104f)
        {
            return 0f;
        }
        return (float)ExpCore(x, 11);
    }

    public static float Log(float x) => (float)LogOrNaN(x, 1.0);

    public static float Log2(float x) => (float)LogOrNaN(x, Log2E);

    public static float Sin(float x)
    {
        if (!float.IsFinite(x))
        {
            return float.NaN;
        }
        if (x == 0f)
        {
            return x; // ±0 keeps its sign
        }
        SinCos(x, out double s, out _);
        return (float)Math.Clamp(s, -1.0, 1.0);
    }

    public static float Cos(float x)
    {
        if (!float.IsFinite(x))
        {
            return float.NaN;
        }
        SinCos(x, out _, out double c);
        return (float)Math.Clamp(c, -1.0, 1.0);
    }

    public static float Tan(float x)
    {
        if (!float.IsFinite(x))
        {
            return float.NaN;
        }
        if (x == 0f)
        {
            return x; // ±0 keeps its sign
        }
        SinCos(x, out double s, out double c);
        return (float)(s / c);
    }

    public static float Tanh(float x)
    {
        if (float.IsNaN(x))
        {
            return x;
        }
        if (x == 0f)
        {
            return x; // ±0 keeps its sign
        }
        double d = x, a = Math.Abs(d);
        if (a > 20)
        {
            return x > 0 ? 1f : -1f;
        }
        if (a < 0.25)
        {
            return (float)TanhSeries(d);
        }
        double e = ExpCore(2 * a, 13);
        double t = (e - 1) / (e + 1);
        return (float)(x < 0 ? -t : t);
    }

    public static float Pow(float x, float y)
    {
        // The special cases of C's pow (and so of MathF.Pow), in its order.
        if (y == 0f || x == 1f)
        {
            return 1f;
        }
        if (float.IsNaN(x) || float.IsNaN(y))
        {
            return float.NaN;
        }
        float ax = Math.Abs(x);
        bool yInteger = MathF.Floor(y) == y;
        bool yOdd = yInteger && Math.Abs(y) < 16777216f && ((long)y & 1) != 0;
        if (float.IsInfinity(y))
        {
            if (ax == 1f)
            {
                return 1f;
            }
            return (ax < 1f) == (y > 0) ? 0f : float.PositiveInfinity;
        }
        if (float.IsInfinity(x) || x == 0f)
        {
            // |x|^y is 0 or ∞; a negative x keeps its sign for odd integer y.
            bool large = float.IsInfinity(x) == (y > 0);
            float magnitude = large ? float.PositiveInfinity : 0f;
            return BitConverter.SingleToInt32Bits(x) < 0 && yOdd ? -magnitude : magnitude; // -0 counts as negative

        }
        if (x < 0 && !yInteger)
        {
            return float.NaN;
        }
        double r = y * LogCore(ax);
        double result = r > 89 ? double.PositiveInfinity : r < -104 ? 0 : ExpCore(r, 13);
        return (float)(x < 0 && yOdd ? -result : result);
    }

    // ---- double ----

    public static double Exp(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }
        if (x > 709.8)
        {
            return double.PositiveInfinity;
        }
        if (x < -745.2)
        {
            return 0;
        }
        return ExpCore(x, 13);
    }

    public static double Log(double x) => LogOrNaN(x, 1.0);

    public static double Tanh(double x)
    {
        if (double.IsNaN(x) || x == 0)
        {
            return x; // NaN, and ±0 with its sign
        }
        double a = Math.Abs(x);
        if (a > 20)
        {
            return x > 0 ? 1.0 : -1.0;
        }
        if (a < 0.0625)
        {
            return TanhSeries(x); // Its next term is below 1e-22 of the result here.
        }
        // tanh a = (e^2a − 1)/(e^2a + 1) = m/(m + 2) with m = e^2a − 1 computed without cancellation.
        double m = Expm1Core(2 * a);
        double t = m / (m + 2);
        return x < 0 ? -t : t;
    }

    // ---- cores ----

    /// <summary>e^x for x within the finite range: x = n·ln2 + r, |r| ≤ ln2/2, e^r by its Taylor series to r^degree.</summary>
    private static double ExpCore(double x, int degree)
    {
        double n = Math.Round(x * Log2E);
        double r = x - n * Ln2Hi - n * Ln2Lo;
        // Horner from the highest power: 1 + r(1 + r/2(1 + r/3(...))).
        double p = 1;
        for (int k = degree; k >= 1; k--)
        {
            p = 1 + r / k * p;
        }
        // 2^n in two steps, so that results in the subnormal range are scaled without an overflow or a
        // premature flush (n is in [-1076, 1024]).
        int ni = (int)n;
        int half = ni / 2;
        return p * Pow2(half) * Pow2(ni - half);
    }

    /// <summary>
    /// The series of tanh to x^15, for small |x|: near 0 it keeps the relative accuracy a difference of
    /// exponentials would lose.
    /// </summary>
    private static double TanhSeries(double x)
    {
        double z = x * x;
        double p = -929569.0 / 638512875.0;
        p = p * z + 21844.0 / 6081075.0;
        p = p * z - 1382.0 / 155925.0;
        p = p * z + 62.0 / 2835.0;
        p = p * z - 17.0 / 315.0;
        p = p * z + 2.0 / 15.0;
        p = p * z - 1.0 / 3.0;
        return x + x * z * p;
    }

    /// <summary>
    /// e^x − 1 for |x| ≤ 41 without the cancellation of subtracting 1: x = n·ln2 + r, e^r − 1 = r(1 + r/2(1 +
    /// r/3(...))) to r^15, then 2^n·(e^r − 1) + (2^n − 1), whose terms never cancel badly.
    /// </summary>
    private static double Expm1Core(double x)
    {
        double n = Math.Round(x * Log2E);
        double r = x - n * Ln2Hi - n * Ln2Lo;
        double q = 1;
        for (int k = 15; k >= 2; k--)
        {
            q = 1 + r / k * q;
        }
        double em1 = r * q;
        if (n == 0)
        {
            return em1;
        }
        double scale = Pow2((int)n);
        return scale * em1 + (scale - 1);
    }

    /// <summary>2^k for k in [-1022, 1023], from its bits.</summary>
    private static double Pow2(int k) => BitConverter.Int64BitsToDouble((long)(k + 1023) << 52);

    /// <summary>ln x scaled by <paramref name="scale"/> (1, or log2 e for log2), with the special values of log.</summary>
    private static double LogOrNaN(double x, double scale)
    {
        if (double.IsNaN(x) || x < 0)
        {
            return double.NaN;
        }
        if (x == 0)
        {
            return double.NegativeInfinity;
        }
        if (double.IsPositiveInfinity(x))
        {
            return x;
        }
        return LogCore(x, scale);
    }

    /// <summary>
    /// ln x for finite x &gt; 0: x = m·2^e with m in [√½, √2), ln m = 2·atanh(s), s = (m − 1)/(m + 1),
    /// |s| ≤ 0.1716, by the atanh series to s^25 (its next term is below 1e-19 of the result).
    /// </summary>
    private static double LogCore(double x, double scale = 1.0)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF);
        if (e == 0)
        {
            // Subnormal: scale into the normal range first.
            bits = BitConverter.DoubleToInt64Bits(x * 18014398509481984.0); // 2^54
            e = (int)((bits >> 52) & 0x7FF) - 54;
        }
        e -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > Sqrt2)
        {
            m *= 0.5;
            e++;
        }
        double s = (m - 1) / (m + 1), z = s * s;
        double series = 1.0 / 25;
        for (int k = 23; k >= 3; k -= 2)
        {
            series = series * z + 1.0 / k;
        }
        double atanh2 = 2 * s + 2 * s * z * series; // 2·atanh(s) = 2s(1 + z/3 + z²/5 + ...)
        if (scale == 1.0)
        {
            return e * Ln2Hi + (e * Ln2Lo + atanh2);
        }
        return e + atanh2 * scale;
    }

    /// <summary>
    /// sin and cos of a finite float x: x = k·π/2 + r with |r| ≤ π/4, then the Taylor series of sin r and
    /// cos r, rotated by the quadrant k mod 4. Below 2^25 the reduction subtracts k·π/2 in three parts
    /// with fused multiply-adds (each product exact); above, where k·π/2 needs more bits of π than a
    /// double holds, it multiplies the float's integer significand by the bits of 2/π that matter at its
    /// exponent (Payne and Hanek's method), so every float gets its true sine.
    /// </summary>
    private static void SinCos(float x, out double sin, out double cos)
    {
        double r;
        int quadrant;
        float ax = Math.Abs(x);
        if (ax < 33554432f) // 2^25
        {
            double d = ax;
            double k = Math.Round(d * TwoOverPi);
            r = Math.FusedMultiplyAdd(-k, PiOver2Hi, d);
            r = Math.FusedMultiplyAdd(-k, PiOver2Mid, r);
            r = Math.FusedMultiplyAdd(-k, PiOver2Lo, r);
            quadrant = (int)((long)k & 3);
        }
        else
        {
            r = ReduceLarge(ax, out quadrant);
        }
        double z = r * r;
        // sin r = r(1 − z/3! + z²/5! − ... + z^6/13!), cos r = 1 − z/2! + ... + z^7/14!.
        double sp = 1.0 / 6227020800.0;           // 1/13!
        sp = sp * -z + 1.0 / 39916800.0;          // 1/11!
        sp = sp * -z + 1.0 / 362880.0;            // 1/9!
        sp = sp * -z + 1.0 / 5040.0;              // 1/7!
        sp = sp * -z + 1.0 / 120.0;               // 1/5!
        sp = sp * -z + 1.0 / 6.0;                 // 1/3!
        double sr = r - r * z * sp;
        double cp = 1.0 / 87178291200.0;          // 1/14!
        cp = cp * -z + 1.0 / 479001600.0;         // 1/12!
        cp = cp * -z + 1.0 / 3628800.0;           // 1/10!
        cp = cp * -z + 1.0 / 40320.0;             // 1/8!
        cp = cp * -z + 1.0 / 720.0;               // 1/6!
        cp = cp * -z + 1.0 / 24.0;                // 1/4!
        cp = cp * -z + 1.0 / 2.0;                 // 1/2!
        double cr = 1 - z * cp;
        double s = quadrant switch { 0 => sr, 1 => cr, 2 => -sr, _ => -cr };
        cos = quadrant switch { 0 => cr, 1 => -sr, 2 => -cr, _ => sr };
        sin = x < 0 ? -s : s; // sin is odd, cos even: reduced on |x|
    }

    /// <summary>
    /// For a float ax ≥ 2^25: ax = M·2^e (M the 24-bit significand, e ≥ 2), so ax·2/π mod 4 only needs the
    /// 96 bits of 2/π from bit e − 1 on; M times them, as integers, gives the quadrant and r = frac·π/2.
    /// </summary>
    private static double ReduceLarge(float ax, out int quadrant)
    {
        int bits = BitConverter.SingleToInt32Bits(ax);
        int e = ((bits >> 23) & 0xFF) - 150;
        ulong m = (ulong)((bits & 0x7FFFFF) | 0x800000);
        int first = e - 2; // zero-based index of bit e − 1 of 2/π's fraction
        int word = first >> 5, shift = first & 31;
        ulong b2 = Window(word, shift), b1 = Window(word + 1, shift), b0 = Window(word + 2, shift);
        // P = M·B with B = b2·2^64 + b1·2^32 + b0; P·2^-94 mod 4 is the reduced argument in quarter turns.
        ulong t0 = m * b0;
        ulong t1 = m * b1 + (t0 >> 32);
        ulong t2 = m * b2 + (t1 >> 32);
        int q = (int)((t2 >> 30) & 3);
        double fraction = ((t2 & 0x3FFFFFFF) * 4294967296.0 + (t1 & 0xFFFFFFFF)) * 2.168404344971009e-19; // · 2^-62
        if (fraction >= 0.5)
        {
            fraction -= 1;
            q++;
        }
        quadrant = q & 3;
        return fraction * 1.5707963267948966;
    }

    /// <summary>32 bits of 2/π's binary fraction starting <paramref name="shift"/> bits into word <paramref name="word"/>.</summary>
    private static ulong Window(int word, int shift) => (uint)((((ulong)TwoOverPiWord(word) << 32) | TwoOverPiWord(word + 1)) >> (32 - shift));

    /// <summary>The binary fraction of 2/π, 32 bits a word (0.A2F9836E 4E441529 ...), as far as float arguments need.</summary>
    private static uint TwoOverPiWord(int i) => i switch
    {
        0 => 0xA2F9836Eu,
        1 => 0x4E441529u,
        2 => 0xFC2757D1u,
        3 => 0xF534DDC0u,
        4 => 0xDB629599u,
        5 => 0x3C439041u,
        6 => 0xFE5163ABu,
        7 => 0xDEBBC561u,
        _ => 0xB7246E3Au,
    };
}
