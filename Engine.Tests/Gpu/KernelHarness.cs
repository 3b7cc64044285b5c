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
    public static Array[] RunBoth(Delegate kernel, KernelConfig config, int warpSize, object[] args, Func<object[], object[]>? bind = null, int ulps = 0)
    {
        Array[] expected = Run(kernel, config, args, accelerator: null, warpSize, bind);
        using var cpu = new CpuAccelerator(warpSize);
        Array[] actual = Run(kernel, config, args, cpu, warpSize, bind);
        for (int k = 0; k < expected.Length; k++)
        {
            AssertSameBits(expected[k], actual[k], $"{kernel.Method.Name}, argument {k}, warp size {warpSize}", ulps: ulps);
        }
        return actual;
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

    public static void AssertSameBits(Array expected, Array actual, string what, string expectedName = "CLR", string actualName = "CPU accelerator", int ulps = 0)
    {
        Assert.Equal(expected.GetType(), actual.GetType());
        Assert.Equal(expected.Length, actual.Length);
        // NaN payloads and signs are not specified by the CLR (the JIT may swap the operands of a
        // commutative operation), so any NaN matches any NaN; everything else, -0.0 included, is bitwise,
        // or within `ulps` units in the last place (same sign: bit patterns of one sign are ordered) where a
        // case computes a function the CLR and the kernel may round differently.
        if (expected is float[] ef && actual is float[] af)
        {
            for (int k = 0; k < ef.Length; k++)
            {
                if (!(float.IsNaN(ef[k]) && float.IsNaN(af[k])) && Math.Abs((long)BitConverter.SingleToInt32Bits(ef[k]) - BitConverter.SingleToInt32Bits(af[k])) > ulps)
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
                if (!(double.IsNaN(ed[k]) && double.IsNaN(ad[k])) && Int128.Abs((Int128)BitConverter.DoubleToInt64Bits(ed[k]) - BitConverter.DoubleToInt64Bits(ad[k])) > ulps)
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
