using Engine.Gpu;

namespace Engine.Tests.Gpu;

/// <summary>An operation chosen by a struct type argument, the way kernels take epilogues and reductions.</summary>
public interface IBinaryOp
{
    static abstract float Identity { get; }

    static abstract float Apply(float a, float b);
}

public struct AddOp : IBinaryOp
{
    public static float Identity => 0f;

    public static float Apply(float a, float b) => a + b;
}

public struct MaxOp : IBinaryOp
{
    public static float Identity => float.NegativeInfinity;

    public static float Apply(float a, float b) => MathF.Max(a, b);
}

/// <summary>A stateful functor passed by value: an instance method through an interface constraint.</summary>
public interface ITransform
{
    float Map(float x);
}

public struct Affine : ITransform
{
    public float Scale;
    public float Shift;

    public readonly float Map(float x) => x * Scale + Shift;
}

public struct MinMax
{
    public float Min;
    public float Max;

    public static MinMax Of(float a, float b) => a < b ? new MinMax { Min = a, Max = b } : new MinMax { Min = b, Max = a };
}

/// <summary>Views travel inside a struct parameter, as a kernel's "tensor arguments" would.</summary>
public struct SaxpyArgs
{
    public ArrayView<float> X;
    public ArrayView<float> Y;
    public float A;
    public int N;
}

/// <summary>Inlining of multi-block callees, generic functors, struct values across branches, pointer phis.</summary>
public static class AdvancedKernels
{
    [Kernel]
    public static void GenericReduce<TOp, TMap>(ArrayView<float> input, ArrayView<float> output, TMap map, int chunk)
        where TOp : struct, IBinaryOp
        where TMap : struct, ITransform
    {
        int i = Grid.GlobalIndexX;
        if ((long)(i + 1) * chunk > input.Length)
        {
            return;
        }
        float acc = TOp.Identity;
        for (int k = 0; k < chunk; k++)
        {
            acc = TOp.Apply(acc, map.Map(input[i * chunk + k]));
        }
        output[i] = acc;
    }

    private static MinMax Classify(float x, float y, int mode)
    {
        if (mode == 0)
        {
            return MinMax.Of(x, y);
        }
        MinMax r = default;
        for (int k = 0; k < mode; k++)
        {
            if (float.IsNaN(x))
            {
                return new MinMax { Min = -1f, Max = -1f };
            }
            r.Min += x * k;
            r.Max -= y;
        }
        return r;
    }

    private static void Bump(ref MinMax m, int times)
    {
        while (times-- > 0)
        {
            m.Max += 1f;
            if (m.Max > 100f)
            {
                m.Max = 0f;
                break;
            }
        }
    }

    [Kernel]
    public static void DeepInlining(ArrayView<float> a, ArrayView<float> b, ArrayView<MinMax> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= a.Length)
        {
            return;
        }
        MinMax m = Classify(a[i], b[i], i % 3);
        Vec2 v = a[i] > b[i] ? new Vec2(a[i], 1f) : new Vec2(2f, b[i]);   // A struct value across a branch.
        Bump(ref m, (int)v.Y % 5);
        m.Min += v.X;
        r[i] = m;
    }

    [Kernel]
    public static void PointerPhis(ArrayView<float> a, ArrayView<float> r, int stride)
    {
        int i = Grid.GlobalIndexX;
        if (i >= r.Length)
        {
            return;
        }
        ref float best = ref a[i];
        for (int k = i; k < a.Length; k += stride)
        {
            if (a[k] > best)
            {
                best = ref a[k];
            }
        }
        r[i] = best;
        best += 1000f;
    }

    [Kernel]
    public static void CountedLoops(ArrayView<long> r)
    {
        int i = Grid.GlobalIndexX;
        if (i >= r.Length)
        {
            return;
        }
        long acc = i;
        for (uint u = 7; u > 0; u--)
        {
            acc = acc * 3 + u;
        }
        for (long l = 1; l < 1L << 40; l <<= 8)
        {
            acc ^= l * i;
        }
        for (int k = 100; k >= 0; k -= 25)
        {
            acc += k >> 1;
        }
        r[i] = acc;
    }

    [Kernel]
    public static void ViewsInAStruct(SaxpyArgs args)
    {
        int i = Grid.GlobalIndexX;
        if (i < args.N)
        {
            args.Y[i] = args.A * args.X[i] + args.Y[i];
        }
    }

    /// <summary>A warp-wide reduction with the operation as a type argument (a library-style helper).</summary>
    private static float WarpReduce<TOp>(float value) where TOp : struct, IBinaryOp
    {
        for (int mask = Warp.WarpSize / 2; mask > 0; mask >>= 1)
        {
            value = TOp.Apply(value, Warp.ShuffleXor(value, mask));
        }
        return value;
    }

    [Kernel]
    public static void WarpReduceBoth(ArrayView<float> input, ArrayView<float> sums, ArrayView<float> maxima)
    {
        int i = Grid.GlobalIndexX;
        float v = input[i];
        float sum = WarpReduce<AddOp>(v);
        float max = WarpReduce<MaxOp>(v);
        if (Warp.LaneIdx == 0)
        {
            int w = i / Warp.WarpSize;
            sums[w] = sum;
            maxima[w] = max;
        }
    }
}
