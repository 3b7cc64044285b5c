using Engine.Gpu;
using Engine.Numerics;

namespace Engine.Kernels;

/// <summary>The elementwise functions of one tensor (the order of Engine's UnaryOp).</summary>
public enum UnaryFunction
{
    /// <summary>x·arg.</summary>
    Scale,
    /// <summary>x + arg.</summary>
    AddScalar,
    /// <summary>eˣ.</summary>
    Exp,
    /// <summary>ln x.</summary>
    Log,
    /// <summary>tanh x.</summary>
    Tanh,
    /// <summary>√x.</summary>
    Sqrt,
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>max(x, 0)².</summary>
    ReluSquared,
    /// <summary>arg·tanh(x/arg).</summary>
    Softcap,
    /// <summary>x².</summary>
    Square,
}

/// <summary>The elementwise functions of two tensors (the order of Engine's BinaryOp).</summary>
public enum BinaryFunction
{
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a − b.</summary>
    Sub,
    /// <summary>a · b.</summary>
    Mul,
    /// <summary>a / b.</summary>
    Div,
}

/// <summary>
/// The fp32 kernels behind Engine's GPU backend for everything but the matrix products
/// (<see cref="FloatGemm"/>): fills and strided copies of any element width, integer casts (the bf16 ones are
/// <see cref="TrainingKernels.ToBf16"/> and <see cref="TrainingKernels.ToFloat"/>), broadcasting
/// arithmetic, the unary functions and their derivatives, reductions to a broadcast shape, and the row
/// kernels of the GPT (RMSNorm, softmax, cross-entropy, embedding, rotary, the softmax and gradient
/// steps of attention). They compute exactly what Engine's CPU backend computes, in the same fp32
/// formulas, so a model trains the same on either device up to the order of additions. One thread per
/// element for elementwise work, one group per row for row work; the reductions are the group
/// reductions of Engine.Gpu, whose order is fixed.
/// </summary>
public static partial class TensorKernels
{
    /// <summary>Threads per group of the elementwise kernels.</summary>
    public const int GroupSize = 256;

    /// <summary>Threads per group of the row kernels (one group per row).</summary>
    public const int RowGroupSize = 256;

    /// <summary>A grid-stride launch for <paramref name="items"/> elements.</summary>
    internal static KernelConfig Streaming(long items) =>
        KernelConfig.Linear((int)Math.Max(1, Math.Min((items + GroupSize - 1) / GroupSize, 64 * 1024)), GroupSize);

    /// <summary>One group per row; rows beyond the grid's x limit go to y.</summary>
    private static KernelConfig Rows(int rows, int groupSize) => KernelConfig.Linear(Math.Max(1, rows), groupSize);

    private static int RowSize(int width, int warp) => width <= 64 ? Math.Max(warp, 32) : RowGroupSize;

    // ---------------------------------------------------------------- fills, copies, casts

    [Kernel]
    internal static void Fill64Kernel(ArrayView<ulong> x, ulong value)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            x[i] = value;
        }
    }

    [Kernel]
    internal static void Fill32Kernel(ArrayView<uint> x, uint value)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            x[i] = value;
        }
    }

    [Kernel]
    internal static void Fill16Kernel(ArrayView<ushort> x, ushort value)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            x[i] = value;
        }
    }

    /// <summary>Sets every element of <paramref name="x"/> to <paramref name="value"/>.</summary>
    public static void Fill(Accelerator accelerator, ArrayView<ulong> x, ulong value) =>
        accelerator.LoadKernel<ArrayView<ulong>, ulong>(Fill64Kernel)(Streaming(x.Length), x, value);

    /// <summary>Sets every element of <paramref name="x"/> to <paramref name="value"/>.</summary>
    public static void Fill(Accelerator accelerator, ArrayView<uint> x, uint value) =>
        accelerator.LoadKernel<ArrayView<uint>, uint>(Fill32Kernel)(Streaming(x.Length), x, value);

    /// <summary>Sets every element of <paramref name="x"/> to <paramref name="value"/>.</summary>
    public static void Fill(Accelerator accelerator, ArrayView<ushort> x, ushort value) =>
        accelerator.LoadKernel<ArrayView<ushort>, ushort>(Fill16Kernel)(Streaming(x.Length), x, value);

    [Kernel]
    internal static void CopyDense64Kernel(ArrayView<ulong> source, ArrayView<ulong> destination)
    {
        for (int i = Grid.GlobalIndexX; i < source.Length; i += Grid.GlobalDimX)
        {
            destination[i] = source[i];
        }
    }

    [Kernel]
    internal static void CopyDense32Kernel(ArrayView<uint> source, ArrayView<uint> destination)
    {
        for (int i = Grid.GlobalIndexX; i < source.Length; i += Grid.GlobalDimX)
        {
            destination[i] = source[i];
        }
    }

    [Kernel]
    internal static void CopyDense16Kernel(ArrayView<ushort> source, ArrayView<ushort> destination)
    {
        for (int i = Grid.GlobalIndexX; i < source.Length; i += Grid.GlobalDimX)
        {
            destination[i] = source[i];
        }
    }

    [Kernel]
    internal static void Copy64Kernel(ArrayView<ulong> source, ArrayView<ulong> destination, StridedLayout layout, int count)
    {
        for (int i = Grid.GlobalIndexX; i < count; i += Grid.GlobalDimX)
        {
            destination[StridedLayout.LocateB(layout, i)] = source[StridedLayout.LocateA(layout, i)];
        }
    }

    [Kernel]
    internal static void Copy32Kernel(ArrayView<uint> source, ArrayView<uint> destination, StridedLayout layout, int count)
    {
        for (int i = Grid.GlobalIndexX; i < count; i += Grid.GlobalDimX)
        {
            destination[StridedLayout.LocateB(layout, i)] = source[StridedLayout.LocateA(layout, i)];
        }
    }

    [Kernel]
    internal static void Copy16Kernel(ArrayView<ushort> source, ArrayView<ushort> destination, StridedLayout layout, int count)
    {
        for (int i = Grid.GlobalIndexX; i < count; i += Grid.GlobalDimX)
        {
            destination[StridedLayout.LocateB(layout, i)] = source[StridedLayout.LocateA(layout, i)];
        }
    }

    private static int CopyCount(StridedLayout layout)
    {
        long count = layout.Count;
        if (count > int.MaxValue)
        {
            throw new ArgumentException($"A copy of {count} elements: kernels index with 32-bit integers.", nameof(layout));
        }
        return (int)count;
    }

    /// <summary>
    /// Copies 8-byte elements between two strided layouts of one index space: A is the source, B the
    /// destination (offsets and strides in elements of the whole buffers).
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="source">The whole source buffer.</param>
    /// <param name="destination">The whole destination buffer.</param>
    /// <param name="layout">Sizes, source strides (A) and destination strides (B).</param>
    public static void Copy(Accelerator accelerator, ArrayView<ulong> source, ArrayView<ulong> destination, StridedLayout layout) =>
        Copy(accelerator, source, destination, layout, CopyDense64Kernel, Copy64Kernel);

    /// <summary>Copies 4-byte elements between two strided layouts (see the 8-byte overload).</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="source">The whole source buffer.</param>
    /// <param name="destination">The whole destination buffer.</param>
    /// <param name="layout">Sizes, source strides (A) and destination strides (B).</param>
    public static void Copy(Accelerator accelerator, ArrayView<uint> source, ArrayView<uint> destination, StridedLayout layout) =>
        Copy(accelerator, source, destination, layout, CopyDense32Kernel, Copy32Kernel);

    /// <summary>Copies 2-byte elements between two strided layouts (see the 8-byte overload).</summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="source">The whole source buffer.</param>
    /// <param name="destination">The whole destination buffer.</param>
    /// <param name="layout">Sizes, source strides (A) and destination strides (B).</param>
    public static void Copy(Accelerator accelerator, ArrayView<ushort> source, ArrayView<ushort> destination, StridedLayout layout) =>
        Copy(accelerator, source, destination, layout, CopyDense16Kernel, Copy16Kernel);

    /// <summary>A dense layout runs the plain copy (no index arithmetic), any other the strided one.</summary>
    private static void Copy<T>(Accelerator accelerator, ArrayView<T> source, ArrayView<T> destination, StridedLayout layout,
        Action<ArrayView<T>, ArrayView<T>> dense, Action<ArrayView<T>, ArrayView<T>, StridedLayout, int> strided)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        int count = CopyCount(layout);
        if (count == 0)
        {
            return;
        }
        if (Dense(layout))
        {
            accelerator.LoadKernel(dense)(Streaming(count), source.SubView(layout.OffsetA, count), destination.SubView(layout.OffsetB, count));
        }
        else
        {
            accelerator.LoadKernel(strided)(Streaming(count), source, destination, layout, count);
        }
    }

    [Kernel]
    internal static void LongToIntKernel(ArrayView<long> source, ArrayView<int> destination)
    {
        for (int i = Grid.GlobalIndexX; i < source.Length; i += Grid.GlobalDimX)
        {
            long v = source[i];
            // Out of the int range becomes int.MinValue, an id no kernel accepts (never a wrapped valid one).
            destination[i] = v < int.MinValue || v > int.MaxValue ? int.MinValue : (int)v;
        }
    }

    [Kernel]
    internal static void IntToLongKernel(ArrayView<int> source, ArrayView<long> destination)
    {
        for (int i = Grid.GlobalIndexX; i < source.Length; i += Grid.GlobalDimX)
        {
            destination[i] = source[i];
        }
    }

    /// <summary>int64 to int32; a value outside the int32 range becomes int.MinValue (an invalid id everywhere).</summary>
    public static void Cast(Accelerator accelerator, ArrayView<long> source, ArrayView<int> destination)
    {
        SameLength(source, nameof(source), destination, nameof(destination));
        accelerator.LoadKernel<ArrayView<long>, ArrayView<int>>(LongToIntKernel)(Streaming(source.Length), source, destination);
    }

    /// <summary>int32 to int64.</summary>
    public static void Cast(Accelerator accelerator, ArrayView<int> source, ArrayView<long> destination)
    {
        SameLength(source, nameof(source), destination, nameof(destination));
        accelerator.LoadKernel<ArrayView<int>, ArrayView<long>>(IntToLongKernel)(Streaming(source.Length), source, destination);
    }

    // ---------------------------------------------------------------- elementwise arithmetic

    private static float Apply(int function, float x, float y)
    {
        if (function == 0)
        {
            return x + y;
        }
        if (function == 1)
        {
            return x - y;
        }
        if (function == 2)
        {
            return x * y;
        }
        return x / y;
    }

    [Kernel]
    internal static void BinaryKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> result, StridedLayout layout, int function)
    {
        for (int i = Grid.GlobalIndexX; i < result.Length; i += Grid.GlobalDimX)
        {
            result[i] = Apply(function, a[StridedLayout.LocateA(layout, i)], b[StridedLayout.LocateB(layout, i)]);
        }
    }

    [Kernel]
    internal static void BinaryDenseKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> result, int function)
    {
        for (int i = Grid.GlobalIndexX; i < result.Length; i += Grid.GlobalDimX)
        {
            result[i] = Apply(function, a[i], b[i]);
        }
    }

    /// <summary>Whether a layout walks both operands contiguously from their offsets (no division needed to locate an element).</summary>
    private static bool Dense(StridedLayout l) =>
        l.D0 == 1 && l.D1 == 1 && l.D2 == 1 && l.D3 == 1 && l.D4 == 1 && (l.D5 == 1 || (l.A5 == 1 && l.B5 == 1));

    /// <summary>
    /// result = a ∘ b over the row-major index space of <paramref name="layout"/>, a and b read through
    /// its strides (0 on broadcast dimensions), result contiguous.
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="function">The operation.</param>
    /// <param name="a">A's whole buffer.</param>
    /// <param name="b">B's whole buffer.</param>
    /// <param name="result">Written: one value per element of the index space.</param>
    /// <param name="layout">The index space and the operands' strides and offsets.</param>
    public static void Binary(Accelerator accelerator, BinaryFunction function, ArrayView<float> a, ArrayView<float> b, ArrayView<float> result, StridedLayout layout)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (layout.Count != result.Length)
        {
            throw new ArgumentException($"The result has {result.Length} elements but the index space has {layout.Count}.", nameof(result));
        }
        if (result.Length == 0)
        {
            return;
        }
        if (Dense(layout))
        {
            // Same shapes, contiguous (residual adds, most of a step): no index arithmetic.
            accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(BinaryDenseKernel)(Streaming(result.Length),
                a.SubView(layout.OffsetA, result.Length), b.SubView(layout.OffsetB, result.Length), result, (int)function);
            return;
        }
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, StridedLayout, int>(BinaryKernel)(Streaming(result.Length), a, b, result, layout, (int)function);
    }

    private static float Evaluate(int function, float x, float arg)
    {
        switch (function)
        {
            case 0:
                return x * arg;
            case 1:
                return x + arg;
            case 2:
                return MathF.Exp(x);
            case 3:
                return MathF.Log(x);
            case 4:
                return MathF.Tanh(x);
            case 5:
                return MathF.Sqrt(x);
            case 6:
                return x < 0f ? 0f : x;
            case 7:
                {
                    float r = x < 0f ? 0f : x;
                    return r * r;
                }
            case 8:
                return MathF.Tanh(x * (1f / arg)) * arg;
            default:
                return x * x;
        }
    }

    private static float Derivative(int function, float x, float y, float dy, float arg)
    {
        switch (function)
        {
            case 0:
                return dy * arg;
            case 1:
                return dy;
            case 2:
                return dy * y;
            case 3:
                return dy / x;
            case 4:
                return (1f - y * y) * dy;
            case 5:
                return dy / y * 0.5f;
            case 6:
                return y > 0f ? dy : 0f;
            case 7:
                return MathF.Sqrt(y) * dy * 2f;   // 2·relu(x) = 2·√y: the backward needs only the output
            case 8:
                return (y * y * (-1f / (arg * arg)) + 1f) * dy;
            default:
                return dy * x * 2f;
        }
    }

    [Kernel]
    internal static void UnaryKernel(ArrayView<float> x, ArrayView<float> y, int function, float arg)
    {
        for (int i = Grid.GlobalIndexX; i < x.Length; i += Grid.GlobalDimX)
        {
            y[i] = Evaluate(function, x[i], arg);
        }
    }

    [Kernel]
    internal static void UnaryBackwardKernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int function, float arg)
    {
        for (int i = Grid.GlobalIndexX; i < dx.Length; i += Grid.GlobalDimX)
        {
            dx[i] = Derivative(function, x[i], y[i], dy[i], arg);
        }
    }

    /// <summary>y = f(x; arg) elementwise.</summary>
    public static void Unary(Accelerator accelerator, UnaryFunction function, ArrayView<float> x, ArrayView<float> y, float arg)
    {
        SameLength(x, nameof(x), y, nameof(y));
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, float>(UnaryKernel)(Streaming(x.Length), x, y, (int)function, arg);
    }

    /// <summary>
    /// dx = dy·f′(x; arg), from y = f(x) wherever the derivative can be (every function but Log and Square),
    /// so a caller may pass y for x after freeing the input: Engine's Gpt frees the MLP's pre-activation.
    /// </summary>
    public static void UnaryBackward(Accelerator accelerator, UnaryFunction function, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, float arg)
    {
        SameLength(dx, nameof(dx), x, nameof(x));
        SameLength(dx, nameof(dx), y, nameof(y));
        SameLength(dx, nameof(dx), dy, nameof(dy));
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(UnaryBackwardKernel)(Streaming(x.Length), x, y, dy, dx, (int)function, arg);
    }

    [Kernel]
    internal static void AddScaledKernel(ArrayView<float> destination, ArrayView<float> source, float alpha)
    {
        for (int i = Grid.GlobalIndexX; i < destination.Length; i += Grid.GlobalDimX)
        {
            destination[i] = source[i] * alpha + destination[i];
        }
    }

    /// <summary>destination += alpha·source.</summary>
    public static void AddScaled(Accelerator accelerator, ArrayView<float> destination, ArrayView<float> source, float alpha)
    {
        SameLength(destination, nameof(destination), source, nameof(source));
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, float>(AddScaledKernel)(Streaming(destination.Length), destination, source, alpha);
    }

    [Kernel]
    internal static void SumKernel(ArrayView<float> x, ArrayView<float> result, StridedLayout kept, StridedLayout reduced, int reducedCount)
    {
        // One group per result element: its threads stride over the reduced index space, then the group sums.
        int o = Grid.IdxX;
        int at = StridedLayout.LocateA(kept, o);
        float sum = 0f;
        for (int r = Group.IdxX; r < reducedCount; r += Group.DimX)
        {
            sum += x[at + StridedLayout.LocateA(reduced, r)];
        }
        sum = Group.Sum(sum);
        if (Group.IdxX == 0)
        {
            result[o] = sum;
        }
    }

    /// <summary>
    /// result[o] = Σ x over the reduced index space, for each element o of the kept one: x's element
    /// for (o, r) is at kept.A(o) + reduced.A(r) (both layouts use operand A; kept's offset is x's).
    /// </summary>
    /// <param name="accelerator">Where the views live.</param>
    /// <param name="x">x's whole buffer.</param>
    /// <param name="result">Written: one sum per element of <paramref name="kept"/>.</param>
    /// <param name="kept">The result's index space, with x's strides.</param>
    /// <param name="reduced">The summed index space, with x's strides and offset 0.</param>
    public static void Sum(Accelerator accelerator, ArrayView<float> x, ArrayView<float> result, StridedLayout kept, StridedLayout reduced)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (kept.Count != result.Length)
        {
            throw new ArgumentException($"The result has {result.Length} elements but the kept index space has {kept.Count}.", nameof(result));
        }
        if (result.Length == 0)
        {
            return;
        }
        long reducedCount = reduced.Count;
        int group = reducedCount <= 64 ? Math.Max(32, accelerator.WarpSize) : RowGroupSize;
        accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, StridedLayout, StridedLayout, int>(SumKernel)(Rows(result.Length, group), x, result, kept, reduced, (int)reducedCount);
    }

    internal static void SameLength<T, U>(ArrayView<T> a, string aName, ArrayView<U> b, string bName)
        where T : unmanaged
        where U : unmanaged
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"{bName} has {b.Length} elements and {aName} has {a.Length}; they must match.", bName);
        }
    }

    internal static int RowsOf(int length, int width, string name)
    {
        if (width <= 0 || length % width != 0)
        {
            throw new ArgumentException($"{name} has {length} elements, not a whole number of rows of width {width}.", name);
        }
        return length / width;
    }
}
