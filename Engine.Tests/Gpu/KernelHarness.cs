using System.Reflection;
using System.Runtime.InteropServices;
using Engine.Gpu;
using Engine.Numerics;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>
/// Runs one kernel twice on the same inputs, as plain C# under the CLR (the specification) and on the
/// CPU accelerator (the compiled IR), and requires every array to agree bit for bit afterwards. Arrays in
/// the argument list become buffers (ArrayView parameters); other arguments pass as they are.
/// </summary>
internal static class KernelHarness
{
    /// <summary>
    /// <paramref name="ulps"/> &gt; 0 relaxes float and double arrays to that many units in the last place, for
    /// kernels calling precise transcendentals: the CLR's come from the platform's libm, a kernel's from
    /// Engine.Gpu's device library (DeviceMath), and both are only held to ulp bounds.
    /// </summary>
    public static Array[] RunBoth(Delegate kernel, KernelConfig config, int warpSize, object[] args, Func<object[], object[]>? bind = null, int ulps = 0)
    {
        Array[] expected = Run(kernel, config, args, accelerator: null, warpSize, bind);
        using var cpu = new CpuAccelerator(warpSize);
        Array[] actual = Run(kernel, config, args, cpu, warpSize, bind);
        for (int k = 0; k < expected.Length; k++)
        {
            string what = $"{kernel.Method.Name}, argument {k}, warp size {warpSize}";
            if (ulps > 0 && expected[k] is float[] or double[])
            {
                AssertWithinUlps(expected[k], actual[k], ulps, what);
            }
            else
            {
                AssertSameBits(expected[k], actual[k], what);
            }
        }
        return actual;
    }

    /// <summary>Distance in units in the last place between two floats or doubles (0 for two NaNs, 2^63 when one is NaN).</summary>
    public static ulong UlpDistance(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b))
        {
            return double.IsNaN(a) && double.IsNaN(b) ? 0 : ulong.MaxValue / 2;
        }
        static long Ordered(double v) => BitConverter.DoubleToInt64Bits(v) is var bits && bits < 0 ? long.MinValue - bits : bits;
        long x = Ordered(a), y = Ordered(b);
        return x > y ? (ulong)(x - y) : (ulong)(y - x);
    }

    /// <inheritdoc cref="UlpDistance(double, double)"/>
    public static ulong UlpDistance(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b))
        {
            return float.IsNaN(a) && float.IsNaN(b) ? 0 : ulong.MaxValue / 2;
        }
        static long Ordered(float v) => BitConverter.SingleToInt32Bits(v) is var bits && bits < 0 ? int.MinValue - (long)bits : bits;
        long x = Ordered(a), y = Ordered(b);
        return (ulong)Math.Abs(x - y);
    }

    /// <summary>Float or double arrays equal to within <paramref name="ulps"/>; zeros must agree in sign, infinities exactly.</summary>
    public static void AssertWithinUlps(Array expected, Array actual, int ulps, string what)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        Assert.Equal(expected.Length, actual.Length);
        for (int k = 0; k < expected.Length; k++)
        {
            var (e, a, distance) = expected is float[] ef
                ? (ef[k], ((float[])actual)[k], UlpDistance(ef[k], ((float[])actual)[k]))
                : (((double[])expected)[k], ((double[])actual)[k], UlpDistance(((double[])expected)[k], ((double[])actual)[k]));
            bool zeroSign = e == 0 && a == 0 && double.IsNegative(e) != double.IsNegative(a);
            if (distance > (ulong)ulps || zeroSign || double.IsInfinity(e) != double.IsInfinity(a))
            {
                Assert.Fail($"{what}: element {k} differs by {distance} ulp (at most {ulps}): CLR {e:R}, CPU accelerator {a:R}.");
            }
        }
    }

    /// <summary>Runs the kernel on copies of the arrays; returns the arrays as the kernel left them.</summary>
    public static Array[] Run(Delegate kernel, KernelConfig config, object[] args, Accelerator? accelerator, int warpSize, Func<object[], object[]>? bind = null)
    {
        // Buffers for the CLR run come from a CPU accelerator too: they are only native memory there.
        using var memory = new CpuAccelerator(warpSize);
        Accelerator owner = accelerator ?? memory;
        var buffers = new List<IDisposable>();
        var readers = new List<Func<Array>>();
        var launchArgs = new object[args.Length];
        try
        {
            for (int k = 0; k < args.Length; k++)
            {
                if (args[k] is Array array)
                {
                    MethodInfo make = typeof(KernelHarness).GetMethod(nameof(MakeBuffer), BindingFlags.NonPublic | BindingFlags.Static)!
                        .MakeGenericMethod(array.GetType().GetElementType()!);
                    var (buffer, view, read) = ((IDisposable, object, Func<Array>))make.Invoke(null, [owner, array])!;
                    buffers.Add(buffer);
                    readers.Add(read);
                    launchArgs[k] = view;
                }
                else
                {
                    launchArgs[k] = args[k];
                }
            }
            if (bind is not null)
            {
                launchArgs = bind(launchArgs);
            }
            if (accelerator is null)
            {
                ClrKernelRunner.Run(kernel, config, warpSize, launchArgs);
            }
            else
            {
                accelerator.Launch(kernel, config, launchArgs);
            }
            return readers.Select(r => r()).ToArray();
        }
        finally
        {
            foreach (IDisposable b in buffers)
            {
                b.Dispose();
            }
        }
    }

    private static (IDisposable, object, Func<Array>) MakeBuffer<T>(Accelerator accelerator, T[] data) where T : unmanaged
    {
        MemoryBuffer<T> buffer = accelerator.Allocate<T>(data.AsSpan());
        return (buffer, buffer.View, () => buffer.GetAsArray());
    }

    public static void AssertSameBits(Array expected, Array actual, string what, string expectedName = "CLR", string actualName = "CPU accelerator")
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        Assert.Equal(expected.Length, actual.Length);
        // NaN payloads and signs are not specified by the CLR (the JIT may swap the operands of a
        // commutative operation), so any NaN matches any NaN; everything else, -0.0 included, is bitwise.
        if (expected is float[] ef && actual is float[] af)
        {
            for (int k = 0; k < ef.Length; k++)
            {
                if (!(float.IsNaN(ef[k]) && float.IsNaN(af[k])) && BitConverter.SingleToInt32Bits(ef[k]) != BitConverter.SingleToInt32Bits(af[k]))
                {
                    Assert.Fail($"{what}: element {k} differs: {expectedName} {Describe(ef[k])}, {actualName} {Describe(af[k])}.");
                }
            }
            return;
        }
        if (expected is double[] ed && actual is double[] ad)
        {
            for (int k = 0; k < ed.Length; k++)
            {
                if (!(double.IsNaN(ed[k]) && double.IsNaN(ad[k])) && BitConverter.DoubleToInt64Bits(ed[k]) != BitConverter.DoubleToInt64Bits(ad[k]))
                {
                    Assert.Fail($"{what}: element {k} differs: {expectedName} {Describe(ed[k])}, {actualName} {Describe(ad[k])}.");
                }
            }
            return;
        }
        if (expected is BFloat16[] eb && actual is BFloat16[] ab)
        {
            for (int k = 0; k < eb.Length; k++)
            {
                if (!(BFloat16.IsNaN(eb[k]) && BFloat16.IsNaN(ab[k])) && eb[k].RawValue != ab[k].RawValue)
                {
                    Assert.Fail($"{what}: element {k} differs: {expectedName} {eb[k]} (0x{eb[k].RawValue:X4}), {actualName} {ab[k]} (0x{ab[k].RawValue:X4}).");
                }
            }
            return;
        }
        if (expected is Half[] eh && actual is Half[] ah)
        {
            for (int k = 0; k < eh.Length; k++)
            {
                if (!(Half.IsNaN(eh[k]) && Half.IsNaN(ah[k])) && BitConverter.HalfToUInt16Bits(eh[k]) != BitConverter.HalfToUInt16Bits(ah[k]))
                {
                    Assert.Fail($"{what}: element {k} differs: {expectedName} {eh[k]}, {actualName} {ah[k]}.");
                }
            }
            return;
        }
        byte[] e = Bytes(expected), a = Bytes(actual);
        int elementSize = e.Length / Math.Max(1, expected.Length);
        // Float fields inside structs follow the same NaN rule: a NaN matches any NaN, byte for byte otherwise.
        var leaves = new List<(int Offset, int Size)>();
        FloatLeaves(expected.GetType().GetElementType()!, 0, leaves);
        for (int i = 0; i < e.Length; i++)
        {
            if (e[i] != a[i])
            {
                int element = i / elementSize, offset = i % elementSize;
                if (leaves.FirstOrDefault(l => offset >= l.Offset && offset < l.Offset + l.Size) is { Size: > 0 } leaf
                    && IsNaN(e, element * elementSize + leaf.Offset, leaf.Size) && IsNaN(a, element * elementSize + leaf.Offset, leaf.Size))
                {
                    continue;
                }
                Assert.Fail($"{what}: element {element} differs at byte {offset}: {expectedName} {Describe(expected.GetValue(element))}, {actualName} {Describe(actual.GetValue(element))}.");
            }
        }
    }

    private static bool IsNaN(byte[] bytes, int at, int size) =>
        size == 4 ? float.IsNaN(BitConverter.ToSingle(bytes, at)) : double.IsNaN(BitConverter.ToDouble(bytes, at));

    /// <summary>The offsets of the float and double fields of a struct, nested structs included.</summary>
    private static void FloatLeaves(Type t, int baseOffset, List<(int, int)> leaves)
    {
        if (t == typeof(float) || t == typeof(double))
        {
            leaves.Add((baseOffset, t == typeof(float) ? 4 : 8));
            return;
        }
        if (t.IsPrimitive || t.IsEnum || !t.IsValueType)
        {
            return;
        }
        foreach (FieldInfo f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            FloatLeaves(f.FieldType, baseOffset + (int)Marshal.OffsetOf(t, f.Name), leaves);
        }
    }

    private static string Describe(object? v) => v switch
    {
        float f => $"{f:R} (0x{BitConverter.SingleToInt32Bits(f):X8})",
        double d => $"{d:R} (0x{BitConverter.DoubleToInt64Bits(d):X16})",
        ValueType s when !s.GetType().IsPrimitive && !s.GetType().IsEnum =>
            "{ " + string.Join(", ", s.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Select(f => $"{f.Name} = {Describe(f.GetValue(s))}")) + " }",
        _ => v?.ToString() ?? "null",
    };

    private static byte[] Bytes(Array array) =>
        (byte[])typeof(KernelHarness).GetMethod(nameof(BytesOf), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(array.GetType().GetElementType()!).Invoke(null, [array])!;

    private static byte[] BytesOf<T>(T[] array) where T : unmanaged => MemoryMarshal.AsBytes(array.AsSpan()).ToArray();
}
