using System.Numerics;
using System.Runtime.CompilerServices;
using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Tests.Gpu;

/// <summary>Eight ints in registers.</summary>
[InlineArray(8)]
public struct Int8Regs
{
    private int _element;
}

/// <summary>Sixteen floats in registers (a 4x4 matrix).</summary>
[InlineArray(16)]
public struct Float16Regs
{
    private float _element;
}

/// <summary>Mixed field widths in one struct.</summary>
public struct Mixed
{
    public byte Tag;
    public short Small;
    public int Count;
    public double Weight;
    public long Big;
}

/// <summary>A value and where it came from, for arg-max style reductions.</summary>
public struct Ranked
{
    public float Value;
    public int Index;

    public static Ranked Better(Ranked a, Ranked b) => b.Value > a.Value || (b.Value == a.Value && b.Index < a.Index) ? b : a;
}

/// <summary>A struct with properties and a method that returns a new struct.</summary>
public readonly struct Complex
{
    public Complex(float re, float im)
    {
        Re = re;
        Im = im;
    }

    public float Re { get; }

    public float Im { get; }

    public Complex Times(Complex o) => new(Re * o.Re - Im * o.Im, Re * o.Im + Im * o.Re);

    public Complex Plus(Complex o) => new(Re + o.Re, Im + o.Im);
}

/// <summary>Binary operations as struct functors for generic kernels.</summary>
public interface IIntOp
{
    static abstract int Apply(int a, int b);

    static abstract int Identity { get; }
}

public struct IntAdd : IIntOp
{
    public static int Apply(int a, int b) => a + b;

    public static int Identity => 0;
}

public struct IntMax : IIntOp
{
    public static int Apply(int a, int b) => Math.Max(a, b);

    public static int Identity => int.MinValue;
}

public struct IntXor : IIntOp
{
    public static int Apply(int a, int b) => a ^ b;

    public static int Identity => 0;
}

/// <summary>The second catalogue batch: one distinct construct or pattern per kernel.</summary>
public static class CatalogueKernels2
{
    // ------------------------------------------------------------ integers

    [Kernel]
    public static void Rotates(ArrayView<uint> x, ArrayView<ulong> y, ArrayView<ulong> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int s = i % 70 - 3;
        r[4 * i] = BitOperations.RotateLeft(x[i], s);
        r[4 * i + 1] = BitOperations.RotateRight(x[i], s);
        r[4 * i + 2] = BitOperations.RotateLeft(y[i], s);
        r[4 * i + 3] = BitOperations.RotateRight(y[i], s);
    }

    [Kernel]
    public static void AbsSignClamp(ArrayView<int> x, ArrayView<long> y, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int a = x[i];
        long b = y[i];
        r[6 * i] = a == int.MinValue ? -1 : Math.Abs(a);
        r[6 * i + 1] = Math.Sign(a) + 10 * Math.Sign(b);
        r[6 * i + 2] = Math.Clamp(a, -1000, 1000);
        r[6 * i + 3] = Math.Clamp(b, -5L, 1L << 40);
        r[6 * i + 4] = (long)Math.Clamp((uint)a, 7u, 3_000_000_000u);
        r[6 * i + 5] = b == long.MinValue ? 0 : Math.Abs(b);
    }

    [Kernel]
    public static void CompoundAssignments(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int v = x[i];
        v += 17;
        v *= 3;
        v -= i;
        v <<= i & 7;
        v >>= 2;
        v ^= 0x5A5A;
        v |= 1;
        v &= ~0x10;
        v %= 1000 + i;
        r[i] = v;
    }

    [Kernel]
    public static void MixedSignCompares(ArrayView<int> x, ArrayView<uint> y, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int a = x[i];
        uint b = y[i];
        int bits = 0;
        bits |= a < b ? 1 : 0;         // both widen to long
        bits |= (uint)a < b ? 2 : 0;   // unsigned compare
        bits |= a >= 0 && (uint)a == b ? 4 : 0;
        bits |= (long)a * 2 > b ? 8 : 0;
        bits |= (ulong)(uint)a + b > uint.MaxValue ? 16 : 0;
        r[i] = bits;
    }

    [Kernel]
    public static void SmallWrap(ArrayView<byte> x, ArrayView<short> y, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        byte b = x[i];
        short s = y[i];
        b += 200;
        s *= 3;
        sbyte t = (sbyte)(b - 100);
        ushort u = (ushort)(s + 40000);
        r[4 * i] = b;
        r[4 * i + 1] = s;
        r[4 * i + 2] = t;
        r[4 * i + 3] = u;
    }

    [Kernel]
    public static void DivisionByPowersOfTwo(ArrayView<int> x, ArrayView<long> y, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int a = x[i];
        long b = y[i];
        r[8 * i] = a / 8;
        r[8 * i + 1] = a % 8;
        r[8 * i + 2] = a >> 3;
        r[8 * i + 3] = b / 1024;
        r[8 * i + 4] = b % 1024;
        r[8 * i + 5] = (uint)a / 16u;
        r[8 * i + 6] = (long)((ulong)b % 4096ul);
        r[8 * i + 7] = a / -4;
    }

    [Kernel]
    public static void DivisionByVariables(ArrayView<long> x, ArrayView<long> y, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long a = x[i], b = y[i];
        if (b == 0 || (a == long.MinValue && b == -1))
        {
            r[4 * i] = r[4 * i + 1] = r[4 * i + 2] = r[4 * i + 3] = 12345;
            return;
        }
        r[4 * i] = a / b;
        r[4 * i + 1] = a % b;
        r[4 * i + 2] = (long)((ulong)a / (ulong)b);
        r[4 * i + 3] = (int)a / ((int)(b & 0x7FFF) | 1);
    }

    [Kernel]
    public static void BoolLogic(ArrayView<int> x, ArrayView<bool> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int v = x[i];
        bool p = v > 0, q = (v & 1) == 0, s = v % 3 == 0;
        r[5 * i] = p ^ q;
        r[5 * i + 1] = p & !q | s;
        r[5 * i + 2] = !(p || q) && !s;
        r[5 * i + 3] = p == s;
        r[5 * i + 4] = p ? q : s;
    }

    [Kernel]
    public static void GcdLoops(ArrayView<uint> x, ArrayView<uint> y, ArrayView<uint> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        uint a = x[i], b = y[i];
        while (b != 0)
        {
            uint t = a % b;
            a = b;
            b = t;
        }
        r[i] = a;
    }

    [Kernel]
    public static void CollatzSteps(ArrayView<long> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long v = x[i];
        int steps = 0;
        while (v != 1 && steps < 500)
        {
            v = (v & 1) == 0 ? v / 2 : 3 * v + 1;
            steps++;
        }
        r[i] = steps;
    }

    [Kernel]
    public static void BitTricks(ArrayView<uint> x, ArrayView<uint> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        uint v = x[i];
        r[6 * i] = v & (v - 1);                          // clear lowest set bit
        r[6 * i + 1] = v & (uint)-(int)v;                // isolate lowest set bit
        r[6 * i + 2] = (uint)BitOperations.PopCount(v) + (uint)BitOperations.TrailingZeroCount(v | 0x80000000u);
        r[6 * i + 3] = v == 0 ? 0 : 31u - (uint)BitOperations.LeadingZeroCount(v); // floor log2
        r[6 * i + 4] = BitOperations.IsPow2(v) ? 1u : 0u;
        r[6 * i + 5] = (v >> 16) | (v << 16);
    }

    [Kernel]
    public static void WideMultiply(ArrayView<uint> x, ArrayView<uint> y, ArrayView<ulong> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        ulong p = (ulong)x[i] * y[i];
        r[3 * i] = p;
        r[3 * i + 1] = p >> 32;
        r[3 * i + 2] = unchecked((ulong)((long)(int)x[i] * (int)y[i]));
    }

    // ------------------------------------------------------------ floating point

    [Kernel]
    public static void NanCompares(ArrayView<float> x, ArrayView<float> y, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        float a = x[i], b = y[i];
        int bits = 0;
        bits |= a < b ? 1 : 0;
        bits |= a <= b ? 2 : 0;
        bits |= a > b ? 4 : 0;
        bits |= a >= b ? 8 : 0;
        bits |= a == b ? 16 : 0;
        bits |= a != b ? 32 : 0;
        bits |= !(a < b) ? 64 : 0;
        bits |= float.IsNaN(a + b) ? 128 : 0;
        r[i] = bits;
    }

    [Kernel]
    public static void Horner(ArrayView<double> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        double v = x[i];
        double p = 0.5;
        p = p * v - 1.25;
        p = p * v + 3.0;
        p = p * v - 0.125;
        p = p * v + 7.0;
        r[i] = p;
    }

    [Kernel]
    public static void KahanSum(ArrayView<float> x, ArrayView<float> r, int perThread)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * perThread > x.Length)
        {
            return;
        }
        float sum = 0f, c = 0f;
        for (int k = 0; k < perThread; k++)
        {
            float y = x[i * perThread + k] - c;
            float t = sum + y;
            c = t - sum - y;
            sum = t;
        }
        r[2 * i] = sum;
        r[2 * i + 1] = c;
    }

    [Kernel]
    public static void NewtonSqrt(ArrayView<double> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        double a = Math.Abs(x[i]) + 1;
        double g = a;
        for (int k = 0; k < 30; k++)
        {
            g = 0.5 * (g + a / g);
        }
        r[i] = g;
    }

    [Kernel]
    public static void RoundingModes(ArrayView<float> x, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        float v = x[i];
        r[6 * i] = MathF.Round(v);
        r[6 * i + 1] = MathF.Floor(v * 0.5f) * 2f;
        r[6 * i + 2] = MathF.Ceiling(-v);
        r[6 * i + 3] = MathF.Truncate(v / 3f);
        r[6 * i + 4] = (int)MathF.Round(v) - v;
        r[6 * i + 5] = v - MathF.Floor(v);
    }

    [Kernel]
    public static void SignedZerosAndSubnormals(ArrayView<float> x, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        float v = x[i];
        r[5 * i] = v * 1e-30f;
        r[5 * i + 1] = v / 1e30f * 1e30f;
        r[5 * i + 2] = -v * 0f;
        r[5 * i + 3] = v - v;
        r[5 * i + 4] = MathF.Min(v, -v);
    }

    [Kernel]
    public static void DoubleFromLongEdges(ArrayView<long> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long v = x[i];
        r[4 * i] = v;
        r[4 * i + 1] = (ulong)v;
        r[4 * i + 2] = (float)v;
        r[4 * i + 3] = (double)(v >> 11) * 2048.0 - v;
    }

    // ------------------------------------------------------------ control flow

    [Kernel]
    public static void SwitchOnChar(ArrayView<char> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        r[i] = x[i] switch
        {
            'a' or 'e' or 'i' or 'o' or 'u' => 1,
            >= '0' and <= '9' => 2,
            ' ' => 3,
            >= 'A' and <= 'Z' => 4,
            _ => 0,
        };
    }

    [Kernel]
    public static void LabeledLoops(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int v = x[i], found = -1;
        for (int a = 1; a < 20; a++)
        {
            for (int b = a; b < 20; b++)
            {
                if (a * b == v)
                {
                    found = a * 100 + b;
                    goto done;
                }
                if (a * b > v)
                {
                    goto nextA;
                }
            }
        nextA:
            ;
        }
    done:
        r[i] = found;
    }

    [Kernel]
    public static void NestedEarlyReturns(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        r[i] = Classify(x[i]);
    }

    private static int Classify(int v)
    {
        if (v < 0)
        {
            if (v < -100)
            {
                return -2;
            }
            return -1;
        }
        for (int k = 2; k * k <= v; k++)
        {
            if (v % k == 0)
            {
                return k;
            }
        }
        return v < 2 ? 0 : 1;
    }

    [Kernel]
    public static void BinarySearch(ArrayView<int> sorted, ArrayView<int> keys, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= keys.Length)
        {
            return;
        }
        int key = keys[i], lo = 0, hi = sorted.Length - 1, at = -1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            int v = sorted[mid];
            if (v == key)
            {
                at = mid;
                break;
            }
            if (v < key)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        r[i] = at == -1 ? ~lo : at;
    }

    [Kernel]
    public static void MultiExitLoop(ArrayView<float> x, ArrayView<int> r, int n)
    {
        int i = Grid.GlobalIndexX;
        if (i >= r.Length)
        {
            return;
        }
        int k = 0;
        float acc = 0;
        while (true)
        {
            if (k >= n)
            {
                r[i] = -1;
                break;
            }
            acc += x[(i + k) % x.Length];
            if (acc > 10f)
            {
                r[i] = k;
                break;
            }
            if (acc < -10f)
            {
                r[i] = 1000 + k;
                break;
            }
            k++;
        }
    }

    [Kernel]
    public static void TernaryChains(ArrayView<double> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        double v = x[i];
        r[i] = v > 100 ? 100 : v < -100 ? -100 : double.IsNaN(v) ? 0 : v > 1 ? Math.Sqrt(v) : v * v;
    }

    [Kernel]
    public static void SwitchStatementFallthroughs(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int acc = 0;
        switch (x[i] & 15)
        {
            case 0:
            case 1:
                acc = 10;
                break;
            case 5:
                acc = 50;
                goto case 6;
            case 6:
                acc += 6;
                break;
            case 9:
            case 10:
            case 11:
                acc = -1;
                break;
            default:
                acc = x[i] & 15;
                break;
        }
        r[i] = acc;
    }

    // ------------------------------------------------------------ register arrays

    [Kernel]
    public static void SortingNetwork(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * 8 > x.Length)
        {
            return;
        }
        Int8Regs v = default;
        for (int k = 0; k < 8; k++)
        {
            v[k] = x[i * 8 + k];
        }
        // Odd-even transposition sort: 8 rounds of compare-exchange, every index constant after unrolling.
        for (int round = 0; round < 8; round++)
        {
            for (int k = round & 1; k + 1 < 8; k += 2)
            {
                int a = v[k], b = v[k + 1];
                v[k] = Math.Min(a, b);
                v[k + 1] = Math.Max(a, b);
            }
        }
        for (int k = 0; k < 8; k++)
        {
            r[i * 8 + k] = v[k];
        }
    }

    [Kernel]
    public static void RegisterMatrixProduct(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * 16 > a.Length)
        {
            return;
        }
        Float16Regs x = default, y = default, z = default;
        for (int k = 0; k < 16; k++)
        {
            x[k] = a[i * 16 + k];
            y[k] = b[i * 16 + k];
        }
        for (int row = 0; row < 4; row++)
        {
            for (int col = 0; col < 4; col++)
            {
                float s = 0f;
                for (int k = 0; k < 4; k++)
                {
                    s += x[row * 4 + k] * y[k * 4 + col];
                }
                z[row * 4 + col] = s;
            }
        }
        for (int k = 0; k < 16; k++)
        {
            c[i * 16 + k] = z[k];
        }
    }

    [Kernel]
    public static void RegisterPrefixAndReverse(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * 8 > x.Length)
        {
            return;
        }
        Int8Regs v = default;
        for (int k = 0; k < 8; k++)
        {
            v[k] = x[i * 8 + k];
        }
        for (int k = 1; k < 8; k++)
        {
            v[k] += v[k - 1];
        }
        for (int k = 0; k < 4; k++)
        {
            int t = v[k];
            v[k] = v[7 - k];
            v[7 - k] = t;
        }
        for (int k = 0; k < 8; k++)
        {
            r[i * 8 + k] = v[k];
        }
    }

    [Kernel]
    public static void RegisterHistogram(ArrayView<int> x, ArrayView<int> r, int perThread)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * perThread > x.Length)
        {
            return;
        }
        Int8Regs bins = default;
        for (int k = 0; k < perThread; k++)
        {
            int b = x[i * perThread + k] & 7;
            // A run-time index into a register array: a chain of selects keeps it in registers.
            for (int j = 0; j < 8; j++)
            {
                bins[j] += j == b ? 1 : 0;
            }
        }
        for (int j = 0; j < 8; j++)
        {
            r[i * 8 + j] = bins[j];
        }
    }

    // ------------------------------------------------------------ structs

    [Kernel]
    public static void MixedStructs(ArrayView<Mixed> x, ArrayView<Mixed> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        Mixed m = x[i];
        m.Tag = (byte)(m.Tag * 3 + 1);
        m.Small = (short)(m.Small - m.Tag);
        m.Count += m.Small;
        m.Weight = m.Weight * 0.5 + m.Count;
        m.Big ^= (long)m.Weight;
        r[i] = m;
    }

    [Kernel]
    public static void ComplexPowers(ArrayView<Complex> x, ArrayView<Complex> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        Complex z = x[i], acc = new(1f, 0f), sum = new(0f, 0f);
        for (int k = 0; k < 6; k++)
        {
            acc = acc.Times(z);
            sum = sum.Plus(acc);
        }
        r[i] = sum;
    }

    [Kernel]
    public static void StructsInSharedMemory(ArrayView<Vec2> x, ArrayView<Vec2> r)
    {
        ArrayView<Vec2> tile = SharedMemory.Allocate<Vec2>(64);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        tile[t] = i < x.Length ? x[i] : new Vec2(0f, 0f);
        Group.Barrier();
        Vec2 a = tile[t], b = tile[(t + 1) % Group.DimX];
        if (i < x.Length)
        {
            r[i] = new Vec2(a.X + b.Y, a.Y - b.X);
        }
    }

    private static void Accumulate(ref Ranked best, float value, int index) => best = Ranked.Better(best, new Ranked { Value = value, Index = index });

    [Kernel]
    public static void StructByRefHelpers(ArrayView<float> x, ArrayView<Ranked> r, int perThread)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * perThread > x.Length)
        {
            return;
        }
        Ranked best = new() { Value = float.NegativeInfinity, Index = -1 };
        for (int k = 0; k < perThread; k++)
        {
            Accumulate(ref best, x[i * perThread + k], k);
        }
        r[i] = best;
    }

    // ------------------------------------------------------------ shared memory and barriers

    [Kernel]
    public static void BlockReverse(ArrayView<int> x, ArrayView<int> r)
    {
        ArrayView<int> tile = SharedMemory.Allocate<int>(128);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        tile[t] = x[i];
        Group.Barrier();
        r[i] = tile[Group.DimX - 1 - t];
    }

    [Kernel]
    public static void BlockScanHillisSteele(ArrayView<int> x, ArrayView<int> r)
    {
        ArrayView<int> a = SharedMemory.Allocate<int>(128);
        ArrayView<int> b = SharedMemory.Allocate<int>(128);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        a[t] = x[i];
        Group.Barrier();
        bool fromA = true;
        for (int offset = 1; offset < Group.DimX; offset *= 2)
        {
            if (fromA)
            {
                b[t] = t >= offset ? a[t] + a[t - offset] : a[t];
            }
            else
            {
                a[t] = t >= offset ? b[t] + b[t - offset] : b[t];
            }
            fromA = !fromA;
            Group.Barrier();
        }
        r[i] = fromA ? a[t] : b[t];
    }

    [Kernel]
    public static void BlockMaxReduction(ArrayView<float> x, ArrayView<float> r)
    {
        ArrayView<float> tile = SharedMemory.Allocate<float>(128);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        tile[t] = i < x.Length ? x[i] : float.NegativeInfinity;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride /= 2)
        {
            if (t < stride)
            {
                tile[t] = MathF.Max(tile[t], tile[t + stride]);
            }
            Group.Barrier();
        }
        if (t == 0)
        {
            r[Grid.IdxX] = tile[0];
        }
    }

    [Kernel]
    public static void PaddedTranspose(ArrayView<float> x, ArrayView<float> r, int width, int height)
    {
        ArrayView<float> tile = SharedMemory.Allocate<float>(8 * 9); // 8x8 plus a column of padding
        int tx = Group.IdxX, ty = Group.IdxY;
        int col = Grid.IdxX * 8 + tx, row = Grid.IdxY * 8 + ty;
        if (col < width && row < height)
        {
            tile[ty * 9 + tx] = x[row * width + col];
        }
        Group.Barrier();
        int outCol = Grid.IdxY * 8 + tx, outRow = Grid.IdxX * 8 + ty;
        if (outCol < height && outRow < width)
        {
            r[outRow * height + outCol] = tile[tx * 9 + ty];
        }
    }

    [Kernel]
    public static void SharedBitonicSort(ArrayView<int> x, ArrayView<int> r)
    {
        ArrayView<int> s = SharedMemory.Allocate<int>(64);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        s[t] = x[i];
        Group.Barrier();
        for (int size = 2; size <= Group.DimX; size *= 2)
        {
            for (int stride = size / 2; stride > 0; stride /= 2)
            {
                int partner = t ^ stride;
                if (partner > t)
                {
                    bool ascending = (t & size) == 0;
                    int a = s[t], b = s[partner];
                    if ((a > b) == ascending)
                    {
                        s[t] = b;
                        s[partner] = a;
                    }
                }
                Group.Barrier();
            }
        }
        r[i] = s[t];
    }

    [Kernel]
    public static void Stencil1D(ArrayView<float> x, ArrayView<float> r)
    {
        ArrayView<float> tile = SharedMemory.Allocate<float>(64 + 2);
        int t = Group.IdxX, i = Grid.GlobalIndexX, n = x.Length;
        tile[t + 1] = i < n ? x[i] : 0f;
        if (t == 0)
        {
            tile[0] = i > 0 ? x[i - 1] : 0f;
        }
        if (t == Group.DimX - 1)
        {
            tile[t + 2] = i + 1 < n ? x[i + 1] : 0f;
        }
        Group.Barrier();
        if (i < n)
        {
            r[i] = 0.25f * tile[t] + 0.5f * tile[t + 1] + 0.25f * tile[t + 2];
        }
    }

    [Kernel]
    public static void SharedThenGlobalHistogram(ArrayView<int> x, ArrayView<int> bins)
    {
        ArrayView<int> local = SharedMemory.Allocate<int>(32);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        if (t < 32)
        {
            local[t] = 0;
        }
        Group.Barrier();
        if (i < x.Length)
        {
            Atomic.Add(ref local[(x[i] >> 3) & 31], 1);
        }
        Group.Barrier();
        if (t < 32 && local[t] != 0)
        {
            Atomic.Add(ref bins[t], local[t]);
        }
    }

    [Kernel]
    public static void MatrixVectorTile(ArrayView<float> m, ArrayView<float> v, ArrayView<float> r, int cols)
    {
        ArrayView<float> sv = SharedMemory.Allocate<float>(256);
        int t = Group.IdxX;
        for (int k = t; k < cols; k += Group.DimX)
        {
            sv[k] = v[k];
        }
        Group.Barrier();
        int row = Grid.GlobalIndexX;
        if (row * cols < m.Length)
        {
            float s = 0f;
            for (int k = 0; k < cols; k++)
            {
                s += m[row * cols + k] * sv[k];
            }
            r[row] = s;
        }
    }

    [Kernel]
    public static void DynamicSharedDoubles(ArrayView<double> x, ArrayView<double> r)
    {
        ArrayView<double> tile = SharedMemory.GetDynamic<double>();
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        tile[t] = x[i] * 2;
        Group.Barrier();
        r[i] = tile[t] + tile[(t + 3) % Group.DimX];
    }

    // ------------------------------------------------------------ warps

    [Kernel]
    public static void WarpMaxDown(ArrayView<float> x, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        float v = x[i];
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            v = MathF.Max(v, Warp.ShuffleDown(v, offset));
        }
        if (Warp.LaneIdx == 0)
        {
            r[i / Warp.WarpSize] = v;
        }
    }

    [Kernel]
    public static void WarpInclusiveScan(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        int v = x[i];
        for (int offset = 1; offset < Warp.WarpSize; offset *= 2)
        {
            int up = Warp.ShuffleUp(v, offset);
            if (Warp.LaneIdx >= offset)
            {
                v += up;
            }
        }
        r[i] = v;
    }

    [Kernel]
    public static void BallotCompaction(ArrayView<int> x, ArrayView<int> r, ArrayView<int> counts)
    {
        int i = Grid.GlobalIndexX;
        int v = x[i];
        bool keep = v % 3 == 0;
        uint mask = Warp.Ballot(keep);
        int lane = Warp.LaneIdx;
        int before = BitOperations.PopCount(mask & ((1u << lane) - 1u));
        int warpBase = (i / Warp.WarpSize) * Warp.WarpSize;
        if (keep)
        {
            r[warpBase + before] = v;
        }
        if (lane == 0)
        {
            counts[i / Warp.WarpSize] = BitOperations.PopCount(mask);
        }
    }

    [Kernel]
    public static void WarpAllAny(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        int v = x[i];
        int bits = (Warp.All(v >= 0) ? 1 : 0) | (Warp.Any(v > 90) ? 2 : 0) | (Warp.All(v != 7) ? 4 : 0) | (Warp.Any(v == i) ? 8 : 0);
        r[i] = bits;
    }

    [Kernel]
    public static void WarpBroadcastFromLeader(ArrayView<long> x, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        long v = x[i];
        long leader = Warp.Shuffle(v, 0);
        long last = Warp.Shuffle(v, Warp.WarpSize - 1);
        r[i] = v - leader + last;
    }

    [Kernel]
    public static void WarpArgMax(ArrayView<float> x, ArrayView<Ranked> r)
    {
        int i = Grid.GlobalIndexX;
        Ranked mine = new() { Value = x[i], Index = i };
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            Ranked other = Warp.ShuffleXor(mine, offset);
            mine = Ranked.Better(mine, other);
        }
        r[i] = mine;
    }

    [Kernel]
    public static void WarpDoubleSum(ArrayView<double> x, ArrayView<double> r)
    {
        int i = Grid.GlobalIndexX;
        double v = x[i];
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            v += Warp.ShuffleXor(v, offset); // Butterfly: every lane ends with the same sum, in the same order.
        }
        r[i] = v;
    }

    [Kernel]
    public static void SegmentedSums(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        int v = x[i];
        int width = Warp.WarpSize >= 4 ? 4 : Warp.WarpSize;
        for (int offset = width / 2; offset > 0; offset /= 2)
        {
            v += Warp.ShuffleXor(v, offset, width);
        }
        r[i] = v;
    }

    // ------------------------------------------------------------ atomics (order-free results only)

    [Kernel]
    public static void AtomicBitset(ArrayView<int> x, ArrayView<uint> bits)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        int v = x[i] & 255;
        Atomic.Or(ref bits[v >> 5], 1u << (v & 31));
    }

    [Kernel]
    public static void AtomicLongMaxMin(ArrayView<long> x, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        Atomic.Max(ref r[0], x[i]);
        Atomic.Min(ref r[1], x[i]);
        Atomic.Add(ref r[2], x[i] & 0xFFFF);
    }

    [Kernel]
    public static void AtomicPerGroupCounts(ArrayView<int> x, ArrayView<int> counts)
    {
        int i = Grid.GlobalIndexX;
        if (i < x.Length && x[i] > 0)
        {
            Atomic.Add(ref counts[Grid.IdxX], 1);
        }
    }

    [Kernel]
    public static void AtomicAndMask(ArrayView<uint> x, ArrayView<uint> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        Atomic.And(ref r[0], x[i] | 0xF0F0F0F0u);
        Atomic.Xor(ref r[1], x[i]);
    }

    // ------------------------------------------------------------ views and grids

    [Kernel]
    public static void SubViewChains(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        ArrayView<int> middle = x.SubView(4, x.Length - 8);
        ArrayView<int> inner = middle.SubView(2, middle.Length - 4);
        if (i < inner.Length)
        {
            r[i] = inner[i] - middle[i] + x[i];
        }
    }

    [Kernel]
    public static void CastFloatBits(ArrayView<float> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        ArrayView<int> bits = x.Cast<int>();
        if (i < bits.Length)
        {
            int b = bits[i];
            r[i] = (b >> 23) & 0xFF; // the biased exponent
        }
    }

    [Kernel]
    public static void CastStructToWords(ArrayView<Vec2> x, ArrayView<uint> r)
    {
        int i = Grid.GlobalIndexX;
        ArrayView<uint> words = x.Cast<uint>();
        if (i < words.Length)
        {
            r[i] = words[i] ^ words[words.Length - 1 - i];
        }
    }

    [Kernel]
    public static void Blur2D(ArrayView<float> x, ArrayView<float> r, int width, int height)
    {
        int col = Grid.IdxX * Group.DimX + Group.IdxX;
        int row = Grid.IdxY * Group.DimY + Group.IdxY;
        if (col >= width || row >= height)
        {
            return;
        }
        float s = 0f;
        int n = 0;
        for (int dy = -1; dy <= 1; dy++)
        {
            for (int dx = -1; dx <= 1; dx++)
            {
                int y = row + dy, xx = col + dx;
                if (y >= 0 && y < height && xx >= 0 && xx < width)
                {
                    s += x[y * width + xx];
                    n++;
                }
            }
        }
        r[row * width + col] = s / n;
    }

    [Kernel]
    public static void VolumeIndex(ArrayView<int> r, int nx, int ny, int nz)
    {
        int x = Grid.IdxX * Group.DimX + Group.IdxX;
        int y = Grid.IdxY * Group.DimY + Group.IdxY;
        int z = Grid.IdxZ * Group.DimZ + Group.IdxZ;
        if (x < nx && y < ny && z < nz)
        {
            r[(z * ny + y) * nx + x] = x * 10000 + y * 100 + z + Group.LinearIndex * 1000000;
        }
    }

    [Kernel]
    public static void GridStrideSaxpy(ArrayView<float> x, ArrayView<float> y, float a)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            y[i] = a * x[i] + y[i];
        }
    }

    // ------------------------------------------------------------ half, bf16, generics

    [Kernel]
    public static void BFloat16RoundTrips(ArrayView<float> x, ArrayView<BFloat16> b, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        BFloat16 h = (BFloat16)x[i];
        b[i] = h;
        r[2 * i] = (float)h - x[i];
        r[2 * i + 1] = (float)(BFloat16)((float)h * 3f);
    }

    [Kernel]
    public static void PackedPairs(ArrayView<float> x, ArrayView<uint> r, ArrayView<float> back)
    {
        int i = Grid.GlobalIndexX;
        if (2 * i + 1 >= x.Length)
        {
            return;
        }
        uint p = TensorCore.PackBFloat162(x[2 * i], x[2 * i + 1]);
        r[i] = p;
        back[2 * i] = TensorCore.UnpackBFloat16(p, false);
        back[2 * i + 1] = TensorCore.UnpackBFloat16(p, true);
    }

    [Kernel]
    public static void HalfArithmetic(ArrayView<Half> x, ArrayView<Half> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        float v = (float)x[i];
        r[2 * i] = (Half)(v * v - 1f);
        r[2 * i + 1] = (Half)(v / 3f);
    }

    [Kernel]
    public static void GenericReduce<TOp>(ArrayView<int> x, ArrayView<int> r, int perThread) where TOp : struct, IIntOp
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * perThread > x.Length)
        {
            return;
        }
        int acc = TOp.Identity;
        for (int k = 0; k < perThread; k++)
        {
            acc = TOp.Apply(acc, x[i * perThread + k]);
        }
        r[i] = acc;
    }

    // ------------------------------------------------------------ async copies and tensor cores

    [Kernel]
    public static void AsyncCopyTwoGroups(ArrayView<long> x, ArrayView<long> r)
    {
        ArrayView<long> first = SharedMemory.Allocate<long>(64);
        ArrayView<long> second = SharedMemory.Allocate<long>(64);
        int t = Group.IdxX, i = Grid.GlobalIndexX;
        AsyncCopy.Copy(ref first[t], ref x[i]);
        AsyncCopy.Commit();
        AsyncCopy.Copy(ref second[t], ref x[(i + 64) % x.Length]);
        AsyncCopy.Commit();
        AsyncCopy.Wait(1); // The first group has landed; the second may not have.
        Group.Barrier();
        long a = first[(t + 1) % 64];
        AsyncCopy.Wait(0);
        Group.Barrier();
        r[i] = a * 3 + second[63 - t];
    }

    [Kernel]
    public static void MmaAccumulateSteps(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> d, int steps)
    {
        // D = sum over steps of A_s (16x16) B_s (16x8) in bf16, chained through the accumulator.
        int lane = Warp.LaneIdx;
        MmaAccumulator acc = default;
        for (int s = 0; s < steps; s++)
        {
            MmaFragmentA fa = default;
            fa.R0 = PairA(a, s, lane, 0);
            fa.R1 = PairA(a, s, lane, 2);
            fa.R2 = PairA(a, s, lane, 4);
            fa.R3 = PairA(a, s, lane, 6);
            MmaFragmentB fb = default;
            fb.R0 = PairB(b, s, lane, 0);
            fb.R1 = PairB(b, s, lane, 2);
            acc = TensorCore.MmaBF16(fa, fb, acc);
        }
        d[TensorCore.RowC(lane, 0) * 8 + TensorCore.ColC(lane, 0)] = acc.C0;
        d[TensorCore.RowC(lane, 1) * 8 + TensorCore.ColC(lane, 1)] = acc.C1;
        d[TensorCore.RowC(lane, 2) * 8 + TensorCore.ColC(lane, 2)] = acc.C2;
        d[TensorCore.RowC(lane, 3) * 8 + TensorCore.ColC(lane, 3)] = acc.C3;
    }

    private static uint PairA(ArrayView<ushort> a, int s, int lane, int i) =>
        a[s * 256 + TensorCore.RowA(lane, i) * 16 + TensorCore.ColA(lane, i)] | ((uint)a[s * 256 + TensorCore.RowA(lane, i + 1) * 16 + TensorCore.ColA(lane, i + 1)] << 16);

    private static uint PairB(ArrayView<ushort> b, int s, int lane, int i) =>
        b[s * 128 + TensorCore.RowB(lane, i) * 8 + TensorCore.ColB(lane, i)] | ((uint)b[s * 128 + TensorCore.RowB(lane, i + 1) * 8 + TensorCore.ColB(lane, i + 1)] << 16);

    [Kernel]
    public static void LdmatrixPlainX2(ArrayView<ushort> a, ArrayView<uint> r)
    {
        ArrayView<ushort> tile = SharedMemory.Allocate<ushort>(256);
        int lane = Warp.LaneIdx;
        for (int k = lane; k < 256; k += 32)
        {
            tile[k] = a[k];
        }
        Group.Barrier();
        MmaFragmentB f = TensorCore.LoadMatrixX2(ref tile[(lane & 15) * 16]);
        r[2 * lane] = f.R0;
        r[2 * lane + 1] = f.R1;
    }

    // ------------------------------------------------------------ more integer and helper patterns

    [Kernel]
    public static void MinMaxAllInts(ArrayView<long> x, ArrayView<long> y, ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long a = x[i], b = y[i];
        r[8 * i] = Math.Min((byte)a, (byte)b);
        r[8 * i + 1] = Math.Max((sbyte)a, (sbyte)b);
        r[8 * i + 2] = Math.Min((short)a, (short)b);
        r[8 * i + 3] = Math.Max((ushort)a, (ushort)b);
        r[8 * i + 4] = Math.Min((uint)a, (uint)b);
        r[8 * i + 5] = (long)Math.Max((ulong)a, (ulong)b);
        r[8 * i + 6] = Math.Min(a, b);
        r[8 * i + 7] = Math.Max((int)a, (int)b);
    }

    [Kernel]
    public static void DoubleNanCompares(ArrayView<double> x, ArrayView<double> y, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        double a = x[i], b = y[i];
        r[i] = (a < b ? 1 : 0) | (a <= b ? 2 : 0) | (a > b ? 4 : 0) | (a >= b ? 8 : 0) | (a == b ? 16 : 0) | (a != b ? 32 : 0)
            | (Math.Max(a, b) == a ? 64 : 0) | (double.IsNaN(Math.Min(a, b)) ? 128 : 0);
    }

    [Kernel]
    public static void ShiftsByVariable(ArrayView<ulong> x, ArrayView<int> counts, ArrayView<ulong> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        ulong v = x[i];
        int c = counts[i];
        r[4 * i] = v << c;
        r[4 * i + 1] = v >> c;
        r[4 * i + 2] = (ulong)((long)v >> c);
        r[4 * i + 3] = (uint)v >> c;
    }

    [Kernel]
    public static void DigitSum(ArrayView<long> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        long v = Math.Abs(x[i] >> 1);
        int sum = 0, digits = 0;
        do
        {
            int d = (int)(v % 10);
            v /= 10;
            digits++;
            if (d == 0)
            {
                continue;
            }
            sum += d;
        }
        while (v != 0);
        r[i] = sum * 100 + digits;
    }

    private static void DivMod(int a, int b, out int quotient, out int remainder)
    {
        quotient = a / b;
        remainder = a - quotient * b;
    }

    [Kernel]
    public static void OutParams(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        DivMod(x[i], 7 + (i & 3), out int q, out int m);
        r[2 * i] = q;
        r[2 * i + 1] = m;
    }

    private static void Swap<T>(ref T a, ref T b) => (a, b) = (b, a);

    [Kernel]
    public static void RefSwap(ArrayView<float> x, ArrayView<int> y)
    {
        int i = Grid.GlobalIndexX;
        if (2 * i + 1 >= x.Length)
        {
            return;
        }
        if (x[2 * i] > x[2 * i + 1])
        {
            Swap(ref x[2 * i], ref x[2 * i + 1]);
            Swap(ref y[2 * i], ref y[2 * i + 1]);
        }
    }

    [Kernel]
    public static void CharCase(ArrayView<char> x, ArrayView<char> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        char c = x[i];
        r[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c >= 'A' && c <= 'Z' ? (char)(c + 32) : char.IsAsciiDigit(c) ? '#' : c;
    }

    [Kernel]
    public static void Crc32Bytes(ArrayView<uint> x, ArrayView<uint> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= x.Length)
        {
            return;
        }
        uint crc = 0xFFFFFFFFu, word = x[i];
        for (int b = 0; b < 4; b++)
        {
            crc ^= (word >> (8 * b)) & 0xFF;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }
        r[i] = ~crc;
    }

    [Kernel]
    public static void Fnv1a(ArrayView<int> x, ArrayView<ulong> r, int perThread)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * perThread > x.Length)
        {
            return;
        }
        ulong h = 14695981039346656037ul;
        for (int k = 0; k < perThread; k++)
        {
            h ^= (uint)x[i * perThread + k];
            h *= 1099511628211ul;
        }
        r[i] = h;
    }

    /// <summary>
    /// Guards that become constant only after unrolling (the GEMM's copy loops have them): folding those
    /// branches leaves dead blocks whose values phis still name until the dead blocks go.
    /// </summary>
    [Kernel]
    public static void ConstantGuardsAfterUnrolling(ArrayView<int> x, ArrayView<int> r)
    {
        int i = Grid.GlobalIndexX;
        if ((i + 1) * 8 > x.Length)
        {
            return;
        }
        Int8Regs a = default, b = default;
        int limit = 3, other = 5;
        for (int k = 0; k < 8; k++)
        {
            int q = i * 8 + k;
            if (k < limit)
            {
                a[k] = x[q] * 2;
            }
            if (k < other)
            {
                b[k] = x[q] + 1;
            }
        }
        int sum = 0;
        for (int k = 0; k < 8; k++)
        {
            sum += a[k] * 10 + b[k];
        }
        r[i] = sum;
    }
}
