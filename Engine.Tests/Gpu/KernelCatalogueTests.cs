using System.Runtime.CompilerServices;
using Engine.Gpu;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>
/// The catalogue: each case is a kernel, a launch shape and inputs (random plus edge cases). Every case
/// runs as plain C# under the CLR and on the CPU accelerator at warp sizes 4 and 32, and every array
/// must agree bit for bit. Some cases add a check against an independent computation. Adding a kernel
/// is one entry in <see cref="Cases"/>.
/// </summary>
public partial class KernelCatalogueTests
{
    [ModuleInitializer]
    internal static void VerifyEveryPass() => KernelCompiler.VerifyEachPass = true;

    /// <summary>
    /// A catalogue entry. <paramref name="Bind"/> turns the buffers' views into the kernel's arguments when they
    /// are not one view per array; <paramref name="WarpSizes"/> narrows the CPU accelerator's warp sizes
    /// (tensor-core operations need full warps of 32).
    /// </summary>
    public sealed record Case(Delegate Kernel, Func<Random, (KernelConfig Config, object[] Args)> Setup, Action<object[], Array[]>? Check = null,
        Func<object[], object[]>? Bind = null, int[]? WarpSizes = null, int Ulps = 0);

    private static readonly int[] IntEdges = [0, 1, -1, 2, -2, 7, 31, 32, 33, 63, 64, -33, int.MinValue, int.MaxValue, int.MinValue + 1, 0x55555555];
    private static readonly long[] LongEdges = [0, 1, -1, 63, 64, 65, long.MinValue, long.MaxValue, int.MinValue, uint.MaxValue, 1L << 53, (1L << 53) + 1, -(1L << 62)];
    private static readonly float[] FloatEdges = [0f, -0f, 1f, -1f, 0.5f, -2.5f, 3.5f, float.NaN, float.PositiveInfinity, float.NegativeInfinity,
        float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, 1e-40f, 2147483648f, -2147483904f, 4294967296f, 1e20f, -1e20f, 255.9f, 65535.5f, 1.17549435e-38f];

    /// <summary>Every ordered pair of edge values, then random values: x gets the first, y the second.</summary>
    private static (T[] X, T[] Y) Pairs<T>(T[] edges, Func<Random, T> random, Random rng, int randomCount = 64)
    {
        var x = new List<T>();
        var y = new List<T>();
        foreach (T a in edges)
        {
            foreach (T b in edges)
            {
                x.Add(a);
                y.Add(b);
            }
        }
        for (int k = 0; k < randomCount; k++)
        {
            x.Add(random(rng));
            y.Add(random(rng));
        }
        return ([.. x], [.. y]);
    }

    private static T[] Filled<T>(int n, T value) => Enumerable.Repeat(value, n).ToArray();

    private static float[] RandomFloats(Random rng, int n, float scale = 10f) =>
        Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();

    private static int[] RandomInts(Random rng, int n, int lo = -1000, int hi = 1000) =>
        Enumerable.Range(0, n).Select(_ => rng.Next(lo, hi)).ToArray();

    private static float RandomFloat(Random r) => r.Next(4) switch
    {
        0 => (float)(r.NextDouble() * 2 - 1),
        1 => (float)((r.NextDouble() * 2 - 1) * 1e6),
        2 => BitConverter.Int32BitsToSingle(r.Next()),
        _ => r.Next(-100, 100) * 0.5f,
    };

    private static KernelConfig Cover(int n, int group = 32) => KernelConfig.Covering(n, group);

    /// <summary>
    /// Precise Math/MathF exp, log, sin, tanh, pow: kernels get Frontend/DeviceMath.cs (within 1 ulp for
    /// float, 2 for double), which may round differently from the CLR's C library, so this case allows
    /// 2 units in the last place against the CLR (DeviceMathTests holds the library to the exact values).
    /// </summary>
    public const string PreciseTranscendentals = "precise transcendentals (the device library)";

    public static readonly Dictionary<string, Case> Cases = Merge(new()
    {
        ["int arithmetic"] = new(ArithmeticKernels.IntOps, rng =>
        {
            var (x, y) = Pairs(IntEdges, r => r.Next(int.MinValue, int.MaxValue), rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * ArithmeticKernels.IntResults, 0x0BADF00D)]);
        }),
        ["uint arithmetic"] = new(ArithmeticKernels.UIntOps, rng =>
        {
            var (x, y) = Pairs(IntEdges.Select(v => (uint)v).ToArray(), r => (uint)r.NextInt64(0, uint.MaxValue + 1L), rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * 12, 0xDEADBEEFu)]);
        }),
        ["long arithmetic"] = new(ArithmeticKernels.LongOps, rng =>
        {
            var (x, y) = Pairs(LongEdges, r => r.NextInt64(long.MinValue, long.MaxValue), rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * 16, 0x0BADF00DL)]);
        }),
        ["ulong arithmetic"] = new(ArithmeticKernels.ULongOps, rng =>
        {
            var (x, y) = Pairs(LongEdges.Select(v => (ulong)v).ToArray(), r => (ulong)r.NextInt64(long.MinValue, long.MaxValue), rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * 8, 0xDEADUL)]);
        }),
        ["small integers"] = new(ArithmeticKernels.SmallInts, rng =>
        {
            int n = 200;
            byte[] u8 = Enumerable.Range(0, n).Select(k => (byte)(k * 37 + rng.Next(256))).ToArray();
            sbyte[] i8 = Enumerable.Range(0, n).Select(k => (sbyte)(k * 91 - rng.Next(256))).ToArray();
            short[] i16 = Enumerable.Range(0, n).Select(k => (short)rng.Next(short.MinValue, short.MaxValue + 1)).ToArray();
            ushort[] u16 = Enumerable.Range(0, n).Select(k => (ushort)rng.Next(0, 65536)).ToArray();
            char[] c16 = Enumerable.Range(0, n).Select(k => (char)rng.Next(0, 65536)).ToArray();
            return (Cover(n), [u8, i8, i16, u16, c16, Filled(n * 10, -7)]);
        }),
        ["float arithmetic"] = new(ArithmeticKernels.FloatOps, rng =>
        {
            var (x, y) = Pairs(FloatEdges, RandomFloat, rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * ArithmeticKernels.FloatResults, float.NaN)]);
        }),
        ["double arithmetic"] = new(ArithmeticKernels.DoubleOps, rng =>
        {
            var (x, y) = Pairs(FloatEdges.Select(v => (double)v).Append(1e300).Append(double.Epsilon).ToArray(), r => RandomFloat(r) * 1.000001, rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * 14, double.NaN)]);
        }),
        [PreciseTranscendentals] = new(ArithmeticKernels.Transcendentals, rng =>
        {
            float[] f = [.. FloatEdges, .. RandomFloats(rng, 40, 30f)];
            double[] d = f.Select(v => v * 1.0000001).ToArray();
            return (Cover(f.Length), [f, d, Filled(5 * f.Length, float.NaN), Filled(2 * f.Length, double.NaN)]);
        }, Ulps: 2),
        ["conversions"] = new(ArithmeticKernels.Conversions, rng =>
        {
            int n = FloatEdges.Length * LongEdges.Length + 64;
            float[] f = Enumerable.Range(0, n).Select(k => k < FloatEdges.Length * LongEdges.Length ? FloatEdges[k % FloatEdges.Length] : RandomFloat(rng)).ToArray();
            double[] d = f.Select((v, k) => k % 3 == 0 ? v * 1e10 : v * 1.0000001).ToArray();
            long[] l = Enumerable.Range(0, n).Select(k => k < FloatEdges.Length * LongEdges.Length ? LongEdges[k / FloatEdges.Length] : rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(64)).ToArray();
            return (Cover(n), [f, d, l, Filled(n * ArithmeticKernels.ConversionResults, 0x0BADL), Filled(n * ArithmeticKernels.ConversionResults, double.NaN)]);
        }),
        ["Math.Clamp, IsInfinity, IsFinite"] = new(ArithmeticKernels.Clamps, rng =>
        {
            float[] f = [.. FloatEdges, .. RandomFloats(rng, 30, 4f)];
            int[] n = [.. IntEdges, .. RandomInts(rng, f.Length - IntEdges.Length, -30, 30)];
            return (Cover(f.Length), [f, n, Filled(3 * f.Length, float.NaN), Filled(2 * f.Length, -99)]);
        }),
        ["bools"] = new(ArithmeticKernels.Bools, rng =>
        {
            bool[] p = [false, false, true, true, .. Enumerable.Range(0, 40).Select(_ => rng.Next(2) == 1)];
            bool[] q = [false, true, false, true, .. Enumerable.Range(0, 40).Select(_ => rng.Next(2) == 1)];
            return (Cover(p.Length), [p, q, new bool[p.Length * 5]]);
        }),
        ["half precision"] = new(ArithmeticKernels.Halves, rng =>
        {
            Half[] h = [(Half)0f, (Half)(-0f), Half.NaN, Half.PositiveInfinity, Half.Epsilon, Half.MaxValue, .. RandomFloats(rng, 50, 100f).Select(v => (Half)v)];
            return (Cover(h.Length), [h, Filled(h.Length, float.NaN)]);
        }),
        ["fast math (CPU meaning)"] = new(ArithmeticKernels.FastMathOps, rng =>
        {
            float[] a = [0f, -0f, 1f, -1f, float.NaN, float.PositiveInfinity, .. RandomFloats(rng, 40, 8f)];
            return (Cover(a.Length), [a, Filled(a.Length * 10, float.NaN)]);
        }),
        ["while loop (Collatz)"] = new(ControlFlowKernels.CollatzSteps, rng =>
        {
            int[] a = [0, 1, 2, 27, 97, 871, .. RandomInts(rng, 90, 1, 100000)];
            return (Cover(a.Length), [a, Filled(a.Length, -1)]);
        }, (args, results) =>
        {
            int[] start = (int[])args[0];
            int[] steps = (int[])results[1];
            Assert.Equal(111, steps[3]); // 27 takes 111 steps to reach 1.
            Assert.Equal(0, steps[1]);
            Assert.Equal(start.Length, steps.Length);
        }),
        ["nested loops, break, continue, do-while"] = new(ControlFlowKernels.NestedLoops, rng =>
        {
            int[] a = RandomInts(rng, 100, 0, 1 << 20);
            return (Cover(a.Length), [a, Filled(a.Length, -1)]);
        }),
        ["switch and multi-return helper"] = new(ControlFlowKernels.Switches, rng =>
        {
            int[] a = [-5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 101, 1000, .. RandomInts(rng, 60, -300, 300)];
            return (Cover(a.Length), [a, Filled(a.Length, -1)]);
        }),
        ["short-circuit and ternaries"] = new(ControlFlowKernels.ShortCircuit, rng =>
        {
            var (x, y) = Pairs(IntEdges.Take(8).ToArray(), r => r.Next(-50, 50), rng);
            return (Cover(x.Length), [x, y, Filled(x.Length * 3, -1)]);
        }),
        ["goto loop"] = new(ControlFlowKernels.Goto, rng =>
        {
            int[] a = RandomInts(rng, 70, 0, 5000);
            return (Cover(a.Length), [a, Filled(a.Length, -1)]);
        }),
        ["2D grid"] = new(ControlFlowKernels.Grid2D, rng =>
        {
            int w = 20, h = 12;
            return (new KernelConfig(new Index3D(3, 3), new Index3D(8, 4)), [RandomFloats(rng, w * h), RandomFloats(rng, w * h), Filled(w * h, float.NaN), w]);
        }),
        ["static readonly fields and enums"] = new(ControlFlowKernels.ConstantsAndEnums, rng =>
        {
            int[] a = RandomInts(rng, 40);
            return (Cover(a.Length), [a, Filled(a.Length, -1), ControlFlowKernels.Mode.Multiply]);
        }),
        ["SubView and Cast"] = new(ControlFlowKernels.ViewsAndSlices, rng =>
        {
            float[] a = RandomFloats(rng, 40, 1000f);
            return (Cover(36), [a, Filled(36, -1)]);
        }),
        ["struct values and methods"] = new(StructKernels.VectorMath, rng =>
        {
            int n = 50;
            Vec2[] a = Enumerable.Range(0, n).Select(_ => new Vec2(RandomFloat(rng), RandomFloat(rng))).ToArray();
            Vec2[] b = Enumerable.Range(0, n).Select(_ => new Vec2(RandomFloat(rng), RandomFloat(rng))).ToArray();
            return (Cover(n), [a, b, Filled(n, float.NaN), Filled(n, new Vec2(float.NaN, float.NaN))]);
        }),
        ["nested structs, struct parameters, ref locals"] = new(StructKernels.NestedStructs, rng =>
        {
            int n = 40;
            Segment[] s = Enumerable.Range(0, n).Select(k => new Segment { A = new Vec2(k, -k), B = new Vec2(RandomFloat(rng), 3f), Tag = k * 7 }).ToArray();
            return (Cover(n), [s, Filled(n, float.NaN), new LaunchParams { Scale = 1.5f, Offset = 11, Flag = 1 }]);
        }),
        ["ref and out parameters"] = new(StructKernels.RefsAndOuts, rng =>
        {
            int n = 40;
            return (Cover(n), [RandomFloats(rng, n), RandomInts(rng, n), Filled(n, float.NaN)]);
        }),
        ["[InlineArray] register array"] = new(StructKernels.RegisterArray, rng =>
        {
            int n = 40;
            return (Cover(n), [RandomFloats(rng, n), Filled(n, float.NaN)]);
        }),
        ["[InlineArray] indexed by loop counters"] = new(StructKernels.RegisterArrayLoops, rng =>
        {
            int n = 40;
            return (Cover(n), [RandomFloats(rng, n), Filled(n, float.NaN)]);
        }),
        ["generic math (INumber) and generic structs"] = new(StructKernels.GenericMath, rng =>
        {
            int n = 40;
            Pair<int>[] p = Enumerable.Range(0, n).Select(k => new Pair<int> { First = k, Second = -k * 3 }).ToArray();
            return (Cover(n), [RandomInts(rng, n), RandomFloats(rng, n).Select(v => (double)v).ToArray(), p]);
        }),
        ["static abstract constant (3)"] = new((Action<ArrayView<int>, ArrayView<int>>)StructKernels.Blocked<Three>, rng =>
            (Cover(40), [RandomInts(rng, 120), Filled(40, -1)])),
        ["static abstract constant (8)"] = new((Action<ArrayView<int>, ArrayView<int>>)StructKernels.Blocked<Eight>, rng =>
            (Cover(40), [RandomInts(rng, 320), Filled(40, -1)])),
        ["generic functors: static abstract op, instance transform (sum)"] = new(
            (Action<ArrayView<float>, ArrayView<float>, Affine, int>)AdvancedKernels.GenericReduce<AddOp, Affine>, rng =>
            (Cover(20), [RandomFloats(rng, 120), Filled(20, float.NaN), new Affine { Scale = 2f, Shift = -1f }, 6]),
            (args, results) =>
            {
                float[] input = (float[])args[0];
                float[] output = (float[])results[1];
                for (int i = 0; i < 20; i++)
                {
                    float acc = 0f;
                    for (int k = 0; k < 6; k++)
                    {
                        acc += input[i * 6 + k] * 2f + -1f;
                    }
                    Assert.Equal(acc, output[i]);
                }
            }),
        ["generic functors: static abstract op, instance transform (max)"] = new(
            (Action<ArrayView<float>, ArrayView<float>, Affine, int>)AdvancedKernels.GenericReduce<MaxOp, Affine>, rng =>
            (Cover(20), [RandomFloats(rng, 100), Filled(20, float.NaN), new Affine { Scale = -1f, Shift = 0.5f }, 5])),
        ["multi-block inlining, struct returns, struct ternaries"] = new(AdvancedKernels.DeepInlining, rng =>
        {
            float[] a = [float.NaN, 1f, -0f, .. RandomFloats(rng, 60, 50f)];
            float[] b = [0f, float.NaN, 0f, .. RandomFloats(rng, 60, 50f)];
            return (Cover(a.Length), [a, b, Filled(a.Length, new MinMax { Min = float.NaN, Max = float.NaN })]);
        }),
        ["ref locals re-pointed in a loop"] = new(AdvancedKernels.PointerPhis, rng =>
            (Cover(16), [RandomFloats(rng, 100), Filled(16, float.NaN), 16])),
        ["counted loops: unsigned, long, shifting, descending"] = new(AdvancedKernels.CountedLoops, rng =>
            (Cover(40), [Filled(40, -1L)])),
        ["views inside a struct parameter"] = new(AdvancedKernels.ViewsInAStruct, rng =>
            (Cover(50), [RandomFloats(rng, 50), RandomFloats(rng, 50)]),
            Bind: views => [new SaxpyArgs { X = (ArrayView<float>)views[0], Y = (ArrayView<float>)views[1], A = 1.5f, N = 50 }]),
        ["warp reduction helper generic over the operation"] = new(AdvancedKernels.WarpReduceBoth, rng =>
            (KernelConfig.Linear(2, 64), [RandomFloats(rng, 128), Filled(32, float.NaN), Filled(32, float.NaN)]),
            (args, results) =>
            {
                float[] input = (float[])args[0];
                float[] sums = (float[])results[1];
                float[] maxima = (float[])results[2];
                int warps = maxima.Count(m => !float.IsNaN(m));
                int warpSize = input.Length / warps;
                Assert.True(warpSize is 4 or 32);
                for (int w = 0; w < warps; w++)
                {
                    float[] lanes = input.Skip(w * warpSize).Take(warpSize).ToArray();
                    Assert.Equal(lanes.Max(), maxima[w]);
                    Assert.Equal(lanes.Sum(v => (double)v), sums[w], 1e-4);
                }
            }),
        ["shared memory tree reduction"] = new(CollectiveKernels.GroupSum, rng =>
        {
            float[] a = RandomFloats(rng, 250);
            return (KernelConfig.Covering(a.Length, CollectiveKernels.ReduceGroup), [a, Filled(4, float.NaN)]);
        }, (args, results) =>
        {
            float[] input = (float[])args[0];
            float[] sums = (float[])results[1];
            for (int g = 0; g < 4; g++)
            {
                double expected = input.Skip(g * 64).Take(64).Sum(v => (double)v);
                Assert.True(Math.Abs(sums[g] - expected) <= 1e-4 * (1 + Math.Abs(expected)), $"group {g}: {sums[g]} vs {expected}");
            }
        }),
        ["shared and dynamic shared memory"] = new(CollectiveKernels.ReverseInGroup, rng =>
            (new KernelConfig(new Index3D(3), new Index3D(128), DynamicSharedBytes: 40 * sizeof(int)), [RandomInts(rng, 384)])),
        ["2D shared tile transpose"] = new(CollectiveKernels.TransposeTile, rng =>
            (new KernelConfig(new Index3D(2, 2), new Index3D(8, 8)), [RandomInts(rng, 256), Filled(256, -1), 16]),
            (args, results) =>
            {
                int[] input = (int[])args[0];
                int[] output = (int[])results[1];
                for (int y = 0; y < 16; y++)
                {
                    for (int x = 0; x < 16; x++)
                    {
                        Assert.Equal(input[y * 16 + x], output[x * 16 + y]);
                    }
                }
            }),
        ["warp butterfly (ShuffleXor)"] = new(CollectiveKernels.WarpButterfly, rng =>
            (KernelConfig.Linear(2, 64), [RandomInts(rng, 128, -100, 100).Select(v => (float)v).ToArray(), Filled(128, float.NaN)])),
        ["warp ShuffleDown reduction and ShuffleUp scan"] = new(CollectiveKernels.WarpDownAndUp, rng =>
            (KernelConfig.Linear(2, 64), [RandomInts(rng, 128), Filled(128, 7), Filled(128, 7), Filled(384, 7)]),
            (args, results) =>
            {
                int[] input = (int[])args[0];
                int[] raw = (int[])results[3];
                Assert.Equal(input[63], raw[3 * 63]); // The last lane of a warp reads past the end: its own value.
                Assert.Equal(input[0], raw[1]);
                Assert.Equal(input[3], raw[0]); // Lane 0 reads lane 3, inside the warp at both warp sizes.
            }),
        ["warp Shuffle broadcast (double, long, struct)"] = new(CollectiveKernels.WarpBroadcast, rng =>
            (KernelConfig.Linear(1, 64), [RandomFloats(rng, 64).Select(v => (double)v).ToArray(),
                Enumerable.Range(0, 64).Select(_ => rng.NextInt64()).ToArray(),
                Enumerable.Range(0, 64).Select(k => new Vec2(k, -k)).ToArray()])),
        ["warp votes"] = new(CollectiveKernels.Votes, rng =>
        {
            int[] a = RandomInts(rng, 96, -3, 50);
            for (int k = 32; k < 64; k++)
            {
                a[k] = Math.Abs(a[k]) + 1; // One whole warp (at either warp size) with every vote true.
            }
            return (KernelConfig.Linear(3, 32), [a, Filled(96, -1)]);
        }),
        ["atomics: add, min, max, xor"] = new(CollectiveKernels.Histogram, rng =>
            (Cover(300), [RandomInts(rng, 300, -100000, 100000), new int[13], new float[1], new[] { uint.MaxValue, 0u, 0u }]),
            (args, results) =>
            {
                int[] values = (int[])args[0];
                int[] bins = (int[])results[1];
                Assert.Equal(values.Length, bins.Sum());
                uint[] ext = (uint[])results[3];
                Assert.Equal(values.Min(v => (uint)v), ext[0]);
                Assert.Equal(values.Max(v => (uint)v), ext[1]);
            }),
        ["atomics: compare-exchange, exchange, float min/max, long add"] = new(CollectiveKernels.AtomicClaims, rng =>
            (Cover(100), [new int[16], Filled(100, 5), new[] { float.MinValue, float.MaxValue }, new long[1]])),
        ["atomics on shared memory"] = new(CollectiveKernels.SharedHistogram, rng =>
            (KernelConfig.Covering(200, 64), [RandomInts(rng, 200, 0, 1000), new int[16]]),
            (args, results) =>
            {
                int[] values = (int[])args[0];
                int[] bins = (int[])results[1];
                for (int b = 0; b < 16; b++)
                {
                    Assert.Equal(values.Count(v => (v & 15) == b), bins[b]);
                }
            }),
    }, LanguageCases(), MoreLanguageCases(), IntrinsicCases(), SecondBatchCases(), ThirdBatchCases());

    public static TheoryData<string, int> CaseNames()
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, c) in Cases)
        {
            foreach (int warpSize in c.WarpSizes ?? [4, 32])
            {
                data.Add(name, warpSize);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesTheClr(string name, int warpSize)
    {
        Case c = Cases[name];
        int seed = Random.Shared.Next();
        var (config, args) = c.Setup(new Random(seed));
        try
        {
            Array[] results = KernelHarness.RunBoth(c.Kernel, config, warpSize, args, c.Bind, c.Ulps);
            c.Check?.Invoke(args, results);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"Case '{name}' (seed {seed}, warp size {warpSize}) failed: {e.Message}", e);
        }
        catch (Xunit.Sdk.XunitException e)
        {
            Assert.Fail($"Case '{name}' (seed {seed}, warp size {warpSize}): {e.Message}");
        }
    }
}
