using Engine.Gpu;

namespace Engine.Tests.Gpu;

/// <summary>Arithmetic, comparison and conversion on every primitive type; results are compared with the CLR.</summary>
public static class ArithmeticKernels
{
    public const int IntResults = 20;

    [Kernel]
    public static void IntOps(ArrayView<int> a, ArrayView<int> b, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        int x = a[i], y = b[i];
        int o = i * IntResults;
        bool divisible = y != 0 && !(x == int.MinValue && y == -1);
        r[o + 0] = x + y;
        r[o + 1] = x - y;
        r[o + 2] = x * y;
        r[o + 3] = divisible ? x / y : 0;
        r[o + 4] = divisible ? x % y : 0;
        r[o + 5] = x & y;
        r[o + 6] = x | y;
        r[o + 7] = x ^ y;
        r[o + 8] = x << y;
        r[o + 9] = x >> y;
        r[o + 10] = (int)((uint)x >> y);
        r[o + 11] = -x;
        r[o + 12] = ~x;
        r[o + 13] = x < y ? 1 : 0;
        r[o + 14] = (uint)x < (uint)y ? 1 : 0;
        r[o + 15] = x >= y ? 1 : 0;
        r[o + 16] = Math.Min(x, y);
        r[o + 17] = Math.Max(x, y);
        r[o + 18] = x == int.MinValue ? 0 : Math.Abs(x);
        r[o + 19] = x == y ? 1 : x > y ? 2 : 3;
    }

    [Kernel]
    public static void UIntOps(ArrayView<uint> a, ArrayView<uint> b, ArrayView<uint> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        uint x = a[i], y = b[i];
        int o = i * 12;
        r[o + 0] = x + y;
        r[o + 1] = x - y;
        r[o + 2] = x * y;
        r[o + 3] = y != 0 ? x / y : 7u;
        r[o + 4] = y != 0 ? x % y : 7u;
        r[o + 5] = x >> (int)y;
        r[o + 6] = x << (int)(y & 7);
        r[o + 7] = x < y ? 1u : 0u;
        r[o + 8] = x >= y ? 1u : 0u;
        r[o + 9] = Math.Min(x, y);
        r[o + 10] = Math.Max(x, y);
        r[o + 11] = x > 5u ? x : y;
    }

    [Kernel]
    public static void LongOps(ArrayView<long> a, ArrayView<long> b, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        long x = a[i], y = b[i];
        int o = i * 16;
        bool divisible = y != 0 && !(x == long.MinValue && y == -1);
        r[o + 0] = x + y;
        r[o + 1] = x - y;
        r[o + 2] = x * y;
        r[o + 3] = divisible ? x / y : 0;
        r[o + 4] = divisible ? x % y : 0;
        r[o + 5] = x & y;
        r[o + 6] = x | y;
        r[o + 7] = x ^ y;
        r[o + 8] = x << (int)y;
        r[o + 9] = x >> (int)y;
        r[o + 10] = (long)((ulong)x >> (int)y);
        r[o + 11] = -x;
        r[o + 12] = ~x;
        r[o + 13] = x < y ? 1 : 0;
        r[o + 14] = (ulong)x < (ulong)y ? 1 : 0;
        r[o + 15] = Math.Max(x, y) - Math.Min(x, y);
    }

    [Kernel]
    public static void ULongOps(ArrayView<ulong> a, ArrayView<ulong> b, ArrayView<ulong> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        ulong x = a[i], y = b[i];
        int o = i * 8;
        r[o + 0] = x + y;
        r[o + 1] = x * y;
        r[o + 2] = y != 0 ? x / y : 3;
        r[o + 3] = y != 0 ? x % y : 3;
        r[o + 4] = x >> (int)y;
        r[o + 5] = x > y ? 1ul : 0ul;
        r[o + 6] = Math.Min(x, y);
        r[o + 7] = Math.Max(x, y);
    }

    [Kernel]
    public static void SmallInts(ArrayView<byte> u8, ArrayView<sbyte> i8, ArrayView<short> i16, ArrayView<ushort> u16, ArrayView<char> c16, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= u8.Length)
        {
            return;
        }
        byte b = u8[i];
        sbyte s = i8[i];
        short h = i16[i];
        ushort w = u16[i];
        char c = c16[i];
        int o = i * 10;
        r[o + 0] = (byte)(b + 200);
        r[o + 1] = (sbyte)(s * 3);
        r[o + 2] = (short)(h * 7);
        r[o + 3] = (ushort)(w + 40000);
        r[o + 4] = b + s + h + w + c;
        r[o + 5] = s >> 2;
        r[o + 6] = (byte)~b;
        r[o + 7] = c > 'm' ? 1 : 0;
        r[o + 8] = (sbyte)b;
        r[o + 9] = (short)w;
        u8[i] = (byte)(b * 3);
        i8[i] = (sbyte)(s - 100);
        i16[i] = (short)(h + w);
        u16[i] = (ushort)(w - 1);
        c16[i] = (char)(c + 1);
    }

    public const int FloatResults = 26;

    [Kernel]
    public static void FloatOps(ArrayView<float> a, ArrayView<float> b, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        float x = a[i], y = b[i];
        int o = i * FloatResults;
        r[o + 0] = x + y;
        r[o + 1] = x - y;
        r[o + 2] = x * y;
        r[o + 3] = x / y;
        r[o + 4] = x % y;
        r[o + 5] = -x;
        r[o + 6] = x < y ? 1f : 0f;
        r[o + 7] = !(x >= y) ? 1f : 0f;
        r[o + 8] = x == y ? 1f : 0f;
        r[o + 9] = x != y ? 1f : 0f;
        r[o + 10] = MathF.Sqrt(x);
        r[o + 11] = MathF.Min(x, y);
        r[o + 12] = MathF.Max(x, y);
        r[o + 13] = MathF.Abs(x);
        r[o + 14] = MathF.Floor(x);
        r[o + 15] = MathF.Ceiling(x);
        r[o + 16] = MathF.Round(x);
        r[o + 17] = MathF.Truncate(x);
        r[o + 18] = MathF.FusedMultiplyAdd(x, y, 1.5f);
        r[o + 19] = float.IsNaN(x) ? 1f : 0f;
        r[o + 20] = x * y + 1.5f;
        r[o + 21] = MathF.Sqrt(MathF.Abs(y)) - x;
        r[o + 22] = (x + y) * 0.5f;
        r[o + 23] = x / 3f;
        r[o + 24] = y % 2.5f;
        r[o + 25] = x > y ? x : y;
    }

    [Kernel]
    public static void DoubleOps(ArrayView<double> a, ArrayView<double> b, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        double x = a[i], y = b[i];
        int o = i * 14;
        r[o + 0] = x + y;
        r[o + 1] = x - y;
        r[o + 2] = x * y;
        r[o + 3] = x / y;
        r[o + 4] = x % y;
        r[o + 5] = -x;
        r[o + 6] = x <= y ? 1 : 0;
        r[o + 7] = !(x > y) ? 1 : 0;
        r[o + 8] = Math.Sqrt(x);
        r[o + 9] = Math.Min(x, y);
        r[o + 10] = Math.Max(x, y);
        r[o + 11] = Math.Sqrt(Math.Abs(y)) + x % 0.1;
        r[o + 12] = Math.FusedMultiplyAdd(x, y, x);
        r[o + 13] = Math.Round(x) + Math.Floor(y);
    }

    /// <summary>The precise Math/MathF transcendentals: the CPU accelerator runs them; PTX has no lowering yet (a device library).</summary>
    [Kernel]
    public static void Transcendentals(ArrayView<float> f, ArrayView<double> d, ArrayView<float> rf, ArrayView<double> rd)
    {
        int i = Grid.GlobalIndexX;
        if (i >= f.Length)
        {
            return;
        }
        float x = f[i];
        double y = d[i];
        rf[5 * i] = MathF.Exp(x);
        rf[5 * i + 1] = MathF.Log(x);
        rf[5 * i + 2] = MathF.Sin(x);
        rf[5 * i + 3] = MathF.Tanh(x);
        rf[5 * i + 4] = MathF.Pow(x, 0.75f);
        rd[2 * i] = Math.Exp(y);
        rd[2 * i + 1] = Math.Log(y);
    }

    public const int TranscendentalResults = 15;

    /// <summary>Every precise transcendental the device library provides, in float and double.</summary>
    [Kernel]
    public static void AllTranscendentals(ArrayView<float> f, ArrayView<double> d, ArrayView<float> rf, ArrayView<double> rd)
    {
        int i = Grid.GlobalIndexX;
        if (i >= f.Length)
        {
            return;
        }
        float x = f[i], u = f[(i + 1) % f.Length];
        double y = d[i], v = d[(i + 1) % d.Length];
        int o = i * TranscendentalResults;
        rf[o] = MathF.Exp(x);
        rf[o + 1] = float.Exp2(x);
        rf[o + 2] = MathF.Log(x);
        rf[o + 3] = MathF.Log2(x);
        rf[o + 4] = MathF.Log10(x);
        rf[o + 5] = MathF.Sin(x);
        rf[o + 6] = MathF.Cos(x);
        rf[o + 7] = MathF.Tan(x);
        rf[o + 8] = MathF.Tanh(x);
        rf[o + 9] = MathF.Sinh(x);
        rf[o + 10] = MathF.Cosh(x);
        rf[o + 11] = MathF.Pow(x, u);
        rf[o + 12] = MathF.Pow(MathF.Abs(x), 0.5f * u);
        rf[o + 13] = MathF.Atan(x);
        rf[o + 14] = MathF.Atan2(x, u);
        rd[o] = Math.Exp(y);
        rd[o + 1] = double.Exp2(y);
        rd[o + 2] = Math.Log(y);
        rd[o + 3] = Math.Log2(y);
        rd[o + 4] = Math.Log10(y);
        rd[o + 5] = Math.Sin(y);
        rd[o + 6] = Math.Cos(y);
        rd[o + 7] = Math.Tan(y);
        rd[o + 8] = Math.Tanh(y);
        rd[o + 9] = Math.Sinh(y);
        rd[o + 10] = Math.Cosh(y);
        rd[o + 11] = Math.Pow(y, v);
        rd[o + 12] = Math.Pow(Math.Abs(y), 0.5 * v);
        rd[o + 13] = Math.Atan(y);
        rd[o + 14] = Math.Atan2(y, v);
    }

    public const int ConversionResults = 16;

    [Kernel]
    public static void Conversions(ArrayView<float> f, ArrayView<double> d, ArrayView<long> l, ArrayView<long> ri, ArrayView<double> rf)
    {
        int i = Grid.GlobalIndexX;
        if (i >= f.Length)
        {
            return;
        }
        float x = f[i];
        double y = d[i];
        long z = l[i];
        int o = i * ConversionResults;
        ri[o + 0] = (int)x;
        ri[o + 1] = (uint)x;
        ri[o + 2] = (long)x;
        ri[o + 3] = (long)(ulong)x;
        ri[o + 4] = (short)x;
        ri[o + 5] = (byte)x;
        ri[o + 6] = (sbyte)y;
        ri[o + 7] = (int)y;
        ri[o + 8] = (long)(ulong)y;
        ri[o + 9] = (int)z;
        ri[o + 10] = (uint)z;
        ri[o + 11] = (ushort)z;
        ri[o + 12] = (long)(int)z;
        ri[o + 13] = (long)(uint)z;
        ri[o + 14] = (long)(ulong)(uint)(int)z;
        ri[o + 15] = (char)z;
        rf[o + 0] = (float)y;
        rf[o + 1] = (double)x;
        rf[o + 2] = (float)z;
        rf[o + 3] = (double)z;
        rf[o + 4] = (float)(ulong)z;
        rf[o + 5] = (double)(ulong)z;
        rf[o + 6] = (float)(uint)z;
        rf[o + 7] = (double)(uint)z;
        rf[o + 8] = (float)(int)z;
        rf[o + 9] = x * (double)y;
        rf[o + 10] = (float)(x * 3.0);
        rf[o + 11] = BitConverter.Int32BitsToSingle((int)z);
        rf[o + 12] = BitConverter.SingleToInt32Bits(x);
        rf[o + 13] = BitConverter.Int64BitsToDouble(z);
        rf[o + 14] = (double)(Half)x;
        rf[o + 15] = (float)(Half)y;
    }

    [Kernel]
    public static void Clamps(ArrayView<float> f, ArrayView<int> n, ArrayView<float> rf, ArrayView<int> rn)
    {
        int i = Grid.GlobalIndexX;
        if (i >= f.Length)
        {
            return;
        }
        float x = f[i];
        rf[3 * i] = Math.Clamp(x, -1f, 2.5f);
        rf[3 * i + 1] = float.IsInfinity(x) ? 1f : 0f;
        rf[3 * i + 2] = double.IsFinite(x * 1e300) ? Math.Clamp(x, 0f, 0f) : -7f;
        rn[2 * i] = Math.Clamp(n[i], -5, 17);
        rn[2 * i + 1] = (int)Math.Clamp((uint)n[i], 3u, 1000u);
    }

    [Kernel]
    public static void Bools(ArrayView<bool> p, ArrayView<bool> q, ArrayView<bool> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= p.Length)
        {
            return;
        }
        bool x = p[i], y = q[i];
        int o = i * 5;
        r[o + 0] = x && y;
        r[o + 1] = x || y;
        r[o + 2] = x ^ y;
        r[o + 3] = !x;
        r[o + 4] = x == y;
    }

    [Kernel]
    public static void Halves(ArrayView<Half> h, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= h.Length)
        {
            return;
        }
        float x = (float)h[i];
        r[i] = x * 2f + 1f;
        h[i] = (Half)(x * 0.5f);
    }

    [Kernel]
    public static void FastMathOps(ArrayView<float> a, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        float x = a[i];
        int o = i * 10;
        r[o + 0] = FastMath.Ex2(x);
        r[o + 1] = FastMath.Lg2(x);
        r[o + 2] = FastMath.Rsqrt(x);
        r[o + 3] = FastMath.Rcp(x);
        r[o + 4] = FastMath.Tanh(x);
        r[o + 5] = FastMath.Fma(x, x, -1f);
        r[o + 6] = FastMath.Min(x, float.NaN);
        r[o + 7] = FastMath.Max(x, 0.25f);
        r[o + 8] = FastMath.Exp(x);
        r[o + 9] = FastMath.Sin(x) + FastMath.Cos(x);
    }
}
