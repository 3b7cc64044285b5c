using System.Numerics;
using System.Runtime.CompilerServices;
using Engine.Gpu;

namespace Engine.Tests.Gpu;

public struct Vec2
{
    public float X;
    public float Y;

    public Vec2(float x, float y)
    {
        X = x;
        Y = y;
    }

    public readonly float Dot(Vec2 o) => X * o.X + Y * o.Y;

    public readonly float LengthSquared => Dot(this);

    public void Scale(float s)
    {
        X *= s;
        Y *= s;
    }

    public static Vec2 operator +(Vec2 a, Vec2 b) => new(a.X + b.X, a.Y + b.Y);
}

public struct Segment
{
    public Vec2 A;
    public Vec2 B;
    public int Tag;
}

public struct LaunchParams
{
    public float Scale;
    public int Offset;
    public byte Flag;
}

[InlineArray(4)]
public struct Float4
{
    private float _element;
}

public interface ISize
{
    static abstract int Value { get; }
}

public struct Three : ISize
{
    public static int Value => 3;
}

public struct Eight : ISize
{
    public static int Value => 8;
}

public struct Pair<T> where T : unmanaged
{
    public T First;
    public T Second;
}

/// <summary>Structs in views, parameters and locals; ref locals and parameters; generics.</summary>
public static class StructKernels
{
    [Kernel]
    public static void VectorMath(ArrayView<Vec2> a, ArrayView<Vec2> b, ArrayView<float> dots, ArrayView<Vec2> sums)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        Vec2 p = a[i];
        Vec2 q = b[i];
        dots[i] = p.Dot(q) + p.LengthSquared;
        Vec2 s = p + q;
        s.Scale(0.5f);
        sums[i] = s;
        a[i].Scale(2f);
        b[i].Y = b[i].X;
    }

    [Kernel]
    public static void NestedStructs(ArrayView<Segment> segments, ArrayView<float> r, LaunchParams param)
    {
        int i = Grid.GlobalIndexX;
        if (i >= segments.Length)
        {
            return;
        }
        Segment s = segments[i];
        Vec2 d = new(s.B.X - s.A.X, s.B.Y - s.A.Y);
        r[i] = d.LengthSquared * param.Scale + s.Tag + param.Offset + (param.Flag != 0 ? 0.5f : 0f);
        ref Segment target = ref segments[i];
        target.Tag += param.Offset;
        target.A = s.B;
    }

    private static void Accumulate(ref float acc, float v) => acc += v * v;

    private static bool TryDivide(int a, int b, out int q)
    {
        if (b == 0)
        {
            q = -1;
            return false;
        }
        q = a / b;
        return true;
    }

    [Kernel]
    public static void RefsAndOuts(ArrayView<float> a, ArrayView<int> n, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        float acc = 1f;
        Accumulate(ref acc, a[i]);
        Accumulate(ref acc, 2f);
        ref float slot = ref r[i];
        slot = acc;
        Accumulate(ref slot, 1f);
        bool ok = TryDivide(n[i], i - 3, out int q);
        n[i] = ok ? q : q * 1000;
    }

    [Kernel]
    public static void RegisterArray(ArrayView<float> a, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        Float4 v = default;
        v[0] = a[i];
        v[1] = v[0] * 2f;
        v[2] = v[1] + 1f;
        v[3] = v[2] * v[0];
        r[i] = v[0] + v[1] + v[2] + v[3];
    }

    [Kernel]
    public static void RegisterArrayLoops(ArrayView<float> a, ArrayView<float> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        Float4 acc = default;
        for (int k = 0; k < 10; k++)
        {
            acc[k & 3] += a[i] * k;
            acc[(k + i) % 4] -= 0.5f;
        }
        float sum = 0f;
        for (int k = 0; k < 4; k++)
        {
            sum = sum * 3f + acc[k];
        }
        r[i] = sum;
    }

    private static T Twice<T>(T x) where T : INumber<T> => x + x;

    [Kernel]
    public static void GenericMath(ArrayView<int> a, ArrayView<double> b, ArrayView<Pair<int>> pairs)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        a[i] = Twice(a[i]);
        b[i] = Twice(b[i]) + Twice(0.25);
        Pair<int> p = pairs[i];
        (p.First, p.Second) = (p.Second, p.First + a[i]);
        pairs[i] = p;
    }

    [Kernel]
    public static void Blocked<TSize>(ArrayView<int> input, ArrayView<int> output) where TSize : struct, ISize
    {
        int i = Grid.GlobalIndexX;
        int n = TSize.Value;
        if (i * n + n > input.Length)
        {
            return;
        }
        int sum = 0;
        for (int k = 0; k < n; k++)
        {
            sum += input[i * n + k] * (k + 1);
        }
        output[i] = sum * 10 + n;
    }
}
