using Engine.Gpu;
using Engine.Numerics;
using Xunit;

namespace Engine.Tests.Gpu;

/// <summary>Catalogue entries for the language subset and the intrinsics, in the same table style as the core cases.</summary>
public partial class KernelCatalogueTests
{
    private static Dictionary<string, Case> Merge(params Dictionary<string, Case>[] tables)
    {
        var all = new Dictionary<string, Case>();
        foreach (var table in tables)
        {
            foreach (var (name, c) in table)
            {
                all.Add(name, c); // Throws on a duplicate name, which would silently drop a case.
            }
        }
        return all;
    }

    private static long[] RandomLongs(Random rng, int n) =>
        Enumerable.Range(0, n).Select(_ => rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(40)).ToArray();

    private static Dictionary<string, Case> LanguageCases() => new()
    {
        ["generic tile <2 x stride 1> in a register array"] = TiledPrefixCase<TileTwoByOne>(),
        ["generic tile <8 x stride 3> in a register array"] = TiledPrefixCase<TileEightByThree>(),
        ["ref locals: conditional, into registers, ref returns"] = new(LanguageKernels.RefLocals, rng =>
        {
            long[] a = [.. LongEdges, .. RandomLongs(rng, 40)];
            long[] b = [.. LongEdges.Reverse(), .. RandomLongs(rng, 40)];
            return (Cover(a.Length), [a, b, Filled(a.Length, 0x0BADL)]);
        }),
        ["switch: dense, sparse, relational, long, goto case"] = new(LanguageKernels.Switches, rng =>
        {
            int[] a = [.. IntEdges, 1000, -5, 77, 1 << 20, -100, -101, 1001, .. RandomInts(rng, 60, -2000, 2000)];
            long[] l = a.Select((v, k) => k % 4 == 0 ? LongEdges[k / 4 % LongEdges.Length] : (long)v * 1_000_003).ToArray();
            return (Cover(a.Length), [a, l, Filled(a.Length * 4, -99)]);
        },
        (args, results) =>
        {
            int[] a = (int[])args[0];
            int[] r = (int[])results[2];
            for (int k = 0; k < a.Length; k++)
            {
                int expected = a[k] < -100 ? 1 : a[k] < 0 ? 2 : a[k] == 0 ? 3 : a[k] <= 1000 ? 4 : 5;
                Assert.Equal(expected, r[k * 4 + 1]);
            }
        }),
        ["Half from float and double, widening, bit casts"] = new(LanguageKernels.HalfConversions, rng =>
        {
            float[] f = [.. FloatEdges, 65504f, 65520f, 65519.99f, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1.00048828125f, 1.00146484375f,
                .. RandomFloats(rng, 40, 70000f), .. RandomFloats(rng, 20, 1e-4f)];
            double[] d = f.Select((v, k) => k % 2 == 0 ? (double)v : v * (1 + 1e-12)).ToArray();
            return (Cover(f.Length), [f, d, Filled(f.Length * 3, (ushort)0xDEAD), Filled(f.Length * 3, float.NaN)]);
        },
        (args, results) =>
        {
            float[] f = (float[])args[0];
            ushort[] bits = (ushort[])results[2];
            for (int k = 0; k < f.Length; k++)
            {
                // Independent of the kernel: the host's own conversion.
                Assert.Equal(BitConverter.HalfToUInt16Bits((Half)f[k]), bits[k * 3]);
            }
        }),
        ["nested generic specialisation"] = new(LanguageKernels.GenericStrides<TileEightByThree>, rng =>
            (Cover(70), [RandomInts(rng, 70)]),
            (args, results) =>
            {
                int[] before = (int[])args[0];
                int[] after = (int[])results[0];
                for (int k = 0; k < before.Length; k++)
                {
                    Assert.Equal(before[k] * 8 + 3 + k * 2 + 1, after[k]);
                }
            }),
    };

    private static Dictionary<string, Case> MoreLanguageCases() => new()
    {
        ["division and remainder by constants"] = new(LanguageKernels.DivisionByConstants, rng =>
        {
            int[] x = [.. IntEdges, .. RandomInts(rng, 60, int.MinValue, int.MaxValue)];
            long[] l = x.Select((v, k) => k < LongEdges.Length ? LongEdges[k] : (long)v * rng.Next()).ToArray();
            return (Cover(x.Length), [x, l, Filled(x.Length * 12, 0x0BADL)]);
        },
        (args, results) =>
        {
            int[] x = (int[])args[0];
            long[] r = (long[])results[2];
            for (int k = 0; k < x.Length; k++)
            {
                // Independent: floor-free identities of truncated division.
                Assert.Equal(x[k], r[k * 12] * 7 + r[k * 12 + 1]);
                Assert.Equal((long)(uint)x[k], r[k * 12 + 4] * 10 + (uint)x[k] % 10);
            }
        }),
        ["grid-stride loop with do-while and continue"] = new(LanguageKernels.GridStride, rng =>
        {
            float[] x = [.. FloatEdges, .. RandomFloats(rng, 300, 1e6f)];
            return (KernelConfig.Linear(2, 32), [x, Filled(x.Length, float.NaN)]);
        }),
        ["64-bit atomics on shared memory"] = new(LanguageKernels.SharedLongAtomics, rng =>
            (KernelConfig.Linear(3, 32), [RandomLongs(rng, 96), Filled(9, 0x0BADL)]),
            (args, results) =>
            {
                long[] x = (long[])args[0];
                long[] r = (long[])results[1];
                for (int g = 0; g < 3; g++)
                {
                    long[] part = x[(g * 32)..(g * 32 + 32)];
                    Assert.Equal(part.Aggregate(0L, (s, v) => unchecked(s + v)), r[g * 3]);
                    Assert.Equal(part.Min(), r[g * 3 + 1]);
                    Assert.Equal(part.Aggregate(0L, (s, v) => s | v), r[g * 3 + 2]);
                }
            }),
        ["unsigned and 64-bit integers to floating point and back"] = new(LanguageKernels.UnsignedToFloat, rng =>
        {
            ulong[] u = [.. LongEdges.Select(v => (ulong)v), ulong.MaxValue, ulong.MaxValue - 1024, 1UL << 63, (1UL << 63) + 1, (1UL << 24) + 1,
                .. Enumerable.Range(0, 40).Select(_ => (ulong)rng.NextInt64() >> rng.Next(64))];
            return (Cover(u.Length), [u, Filled(u.Length * 2, float.NaN), Filled(u.Length * 2, double.NaN), Filled(u.Length * 2, 0xBADUL)]);
        }),
        ["generic struct of generic element <long>"] = new(LanguageKernels.GenericPairs<long>, rng =>
            (Cover(50), [Enumerable.Range(0, 50).Select(_ => new Pair<long> { First = rng.NextInt64(), Second = rng.NextInt64(-1000, 1000) }).ToArray()])),
        ["generic struct of generic element <double>"] = new(LanguageKernels.GenericPairs<double>, rng =>
            (Cover(50), [Enumerable.Range(0, 50).Select(_ => new Pair<double> { First = rng.NextDouble(), Second = rng.NextDouble() * -7 }).ToArray()])),
        ["3D grids and groups: indices, dimensions, linear and warp indices"] = new(LanguageKernels.Grid3D, rng =>
            (new KernelConfig(new Index3D(3, 2, 2), new Index3D(4, 2, 3)), [Filled(12 * 24 * 6, -1)]),
            (args, results) =>
            {
                int[] r = (int[])results[0];
                Assert.DoesNotContain(-1, r); // Every thread wrote its own six slots exactly once.
                Assert.Equal(322, r[(12 * 24 - 1) * 6 + 3]);
                Assert.Equal(423, r[5 * 6 + 2]);
            }),
        ["Half through shared memory and shuffles"] = new(LanguageKernels.HalfShared, rng =>
        {
            Half[] x = [.. RandomFloats(rng, 60, 1000f).Select(v => (Half)v), Half.NaN, Half.PositiveInfinity, Half.NegativeZero, Half.Epsilon];
            return (KernelConfig.Linear(2, 32), [x, Filled(64, Half.NaN)]);
        }),
        ["dynamic shared memory of structs"] = new(LanguageKernels.DynamicSharedStructs, rng =>
        {
            Pair<int>[] input = Enumerable.Range(0, 64).Select(_ => new Pair<int> { First = rng.Next(), Second = rng.Next(-9, 9) }).ToArray();
            return (new KernelConfig(new Index3D(2), new Index3D(32), 32 * 8), [input, new Pair<int>[64]]);
        },
        (args, results) =>
        {
            var input = (Pair<int>[])args[0];
            var output = (Pair<int>[])results[1];
            for (int k = 0; k < 64; k++)
            {
                int source = k / 32 * 32 + k % 32 * 5 % 32;
                Assert.Equal(input[source].Second, output[k].First);
                Assert.Equal(input[source].First + 32, output[k].Second);
            }
        }),
        ["register array of structs, run-time indexed ref"] = new(LanguageKernels.StructRegisterArray, rng =>
        {
            int n = 40;
            Vec2[] points = Enumerable.Range(0, n * 3).Select(_ => new Vec2((float)rng.NextDouble() * 10, (float)rng.NextDouble() - 0.5f)).ToArray();
            return (Cover(n), [points, RandomInts(rng, n), Filled(n, new Vec2(float.NaN, float.NaN))]);
        }),
        ["float and int atomics on shared memory, per group"] = new(LanguageKernels.SharedFloatAtomics, rng =>
            (KernelConfig.Linear(4, 32), [RandomInts(rng, 128), Filled(4, float.NaN), Filled(4, -1)]),
            (args, results) =>
            {
                int[] x = (int[])args[0];
                for (int g = 0; g < 4; g++)
                {
                    int[] part = x[(g * 32)..(g * 32 + 32)];
                    Assert.Equal(part.Sum(v => (float)(v % 100)), ((float[])results[1])[g]);
                    Assert.Equal(part.Count(v => v > 0), ((int[])results[2])[g]);
                }
            }),
        ["FastMath within its documented error bounds"] = new(ArithmeticKernels.FastMathOps, rng =>
        {
            float[] a = [.. RandomFloats(rng, 64, 20f).Select(MathF.Abs), 0.001f, 1f, 2f, 100f];
            return (Cover(a.Length), [a, Filled(a.Length * 10, float.NaN)]);
        },
        (args, results) =>
        {
            float[] a = (float[])args[0];
            float[] r = (float[])results[1];
            for (int k = 0; k < a.Length; k++)
            {
                double x = a[k];
                // Bounds as documented on FastMath (the PTX ISA's for the .approx instructions), against float64.
                AssertRelative(Math.Pow(2, x), r[k * 10], 2e-7 * 4, "Ex2");
                Assert.True(Math.Abs(Math.Log2(x) - r[k * 10 + 1]) <= Math.Pow(2, -22) + 2e-7 * Math.Abs(Math.Log2(x)), $"Lg2({x})");
                AssertRelative(1 / Math.Sqrt(x), r[k * 10 + 2], 2e-7 * 4, "Rsqrt");
                AssertRelative(1 / x, r[k * 10 + 3], 2e-7 * 2, "Rcp");
                Assert.True(Math.Abs(Math.Tanh(x) - r[k * 10 + 4]) <= Math.Pow(2, -10.987), $"Tanh({x})");
                AssertRelative(Math.FusedMultiplyAdd(x, x, -1), r[k * 10 + 5], 1e-7, "Fma");
            }
        }),
    };

    private static void AssertRelative(double expected, float actual, double bound, string what)
    {
        double error = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), double.Epsilon);
        Assert.True(error <= bound, $"{what}: {actual:R} vs {expected:R}, relative error {error:E2} > {bound:E2}");
    }

    private static Case TiledPrefixCase<T>() where T : struct, ITileShape => new(LanguageKernels.TiledPrefix<T>, rng =>
    {
        int threads = 37;
        int n = threads * T.PerThread * T.Stride;
        return (Cover(threads + 3), [RandomFloats(rng, n), Filled(n, float.NaN)]);
    },
    (args, results) =>
    {
        float[] input = (float[])args[0];
        float[] output = (float[])results[1];
        int per = T.PerThread, stride = T.Stride;
        for (int t = 0; t * per * stride < input.Length; t++)
        {
            var regs = new float[per];
            for (int k = 0; k < per; k++)
            {
                regs[k] = input[t * per * stride + k * stride];
            }
            for (int k = 1; k < per; k++)
            {
                regs[k] += regs[k - 1] * 0.5f;
            }
            for (int k = 0; k < per; k++)
            {
                Assert.Equal(regs[per - 1 - k], output[t * per * stride + k * stride]);
            }
        }
    });

    private static Dictionary<string, Case> IntrinsicCases() => new()
    {
        ["atomics: long and ulong add/min/max/and/or/xor, contended"] = new(IntrinsicKernels.LongAtomics, rng =>
        {
            long[] x = [.. LongEdges, .. RandomLongs(rng, 80)];
            return (Cover(x.Length), [x, new long[] { 0, long.MaxValue, long.MinValue, -1, 0, 0 }, new ulong[] { 0, ulong.MaxValue, 0 }]);
        },
        (args, results) =>
        {
            long[] x = (long[])args[0];
            long[] acc = (long[])results[1];
            ulong[] uacc = (ulong[])results[2];
            Assert.Equal(x.Aggregate(0L, (s, v) => unchecked(s + (v >> 8))), acc[0]);
            Assert.Equal(x.Min(), acc[1]);
            Assert.Equal(x.Max(), acc[2]);
            Assert.Equal(x.Select((v, k) => v | (1L << (k & 63))).Aggregate(-1L, (s, v) => s & v), acc[3]);
            Assert.Equal(x.Select((v, k) => v & (0xFFL << (8 * (k & 7)))).Aggregate(0L, (s, v) => s | v), acc[4]);
            Assert.Equal(x.Aggregate(0L, (s, v) => s ^ v), acc[5]);
            Assert.Equal(x.Aggregate(0UL, (s, v) => unchecked(s + ((ulong)v >> 3))), uacc[0]);
            Assert.Equal(x.Min(v => (ulong)v), uacc[1]);
            Assert.Equal(x.Max(v => (ulong)v), uacc[2]);
        }),
        ["atomics: int/uint/float min/max, uint and/or/xor, exact float/double adds"] = new(IntrinsicKernels.MinMaxAtomics, rng =>
        {
            int[] x = [.. IntEdges, .. RandomInts(rng, 80, int.MinValue, int.MaxValue)];
            float[] f = x.Select((v, k) => k % 9 == 0 ? float.NaN : v * 1e-3f).ToArray();
            return (Cover(x.Length), [x, f, new[] { int.MaxValue, int.MinValue }, new[] { uint.MaxValue, 0u, uint.MaxValue, 0u, 0u },
                new[] { float.PositiveInfinity, float.NegativeInfinity, 0f }, new double[1]]);
        },
        (args, results) =>
        {
            int[] x = (int[])args[0];
            float[] f = (float[])args[1];
            int[] ints = (int[])results[2];
            uint[] uints = (uint[])results[3];
            float[] floats = (float[])results[4];
            Assert.Equal((x.Min(), x.Max()), (ints[0], ints[1]));
            Assert.Equal((x.Min(v => (uint)v), x.Max(v => (uint)v)), (uints[0], uints[1]));
            Assert.Equal(x.Aggregate(uint.MaxValue, (s, v) => s & ((uint)v | 0x8000_0001u)), uints[2]);
            Assert.Equal(x.Aggregate(0u, (s, v) => s ^ (uint)v), uints[4]);
            Assert.Equal(f.Where(v => !float.IsNaN(v)).Min(), floats[0]);
            Assert.Equal(f.Where(v => !float.IsNaN(v)).Max(), floats[1]);
            Assert.Equal(x.Sum(v => (double)(v & 255)), floats[2]);
            Assert.Equal(x.Sum(v => (double)(v & 0xFFFF)), ((double[])results[5])[0]);
        }),
        ["atomics: exchange and compare-exchange on all six types"] = new(IntrinsicKernels.ExchangeEveryType, rng =>
        {
            int n = 50;
            return (Cover(n), [RandomInts(rng, n), RandomInts(rng, n).Select(v => (uint)v).ToArray(), RandomLongs(rng, n),
                Enumerable.Range(0, n).Select(k => k % 3 == 0 ? 5ul : (ulong)rng.NextInt64()).ToArray(), RandomFloats(rng, n),
                RandomFloats(rng, n).Select(v => (double)v).ToArray(), Filled(n * 12, 0x0BADL)]);
        }),
        ["atomics: compare-exchange loops (long product, float max, uint bit set)"] = new(IntrinsicKernels.CompareExchangeLoops, rng =>
        {
            int[] x = RandomInts(rng, 60, -500, 500);
            return (Cover(x.Length), [x, new long[] { 1 }, new[] { float.MinValue }, new uint[1]]);
        },
        (args, results) =>
        {
            int[] x = (int[])args[0];
            Assert.Equal(1L << x.Count(v => (v & 1) != 0), ((long[])results[1])[0]);
            Assert.Equal(x.Max() * 0.125f, ((float[])results[2])[0]);
            Assert.Equal(x.Aggregate(0u, (s, v) => s | (1u << (v & 31))), ((uint[])results[3])[0]);
        }),
        ["shuffles at computed and per-lane distances, out-of-range sources"] = new(IntrinsicKernels.ShuffleDistances, rng =>
        {
            int n = 64;
            return (KernelConfig.Linear(2, 32), [RandomFloats(rng, n), RandomLongs(rng, n), Filled(n * 6, float.NaN), Filled(n * 3, 0x0BADL), 3]);
        }),
        ["sub-warp segmented scan from shuffles, ballot popcounts"] = new(IntrinsicKernels.SubWarpScan, rng =>
        {
            int n = 96;
            return (KernelConfig.Linear(3, 32), [RandomInts(rng, n, -50, 50), Filled(n, -1), Filled(n, -1)]);
        },
        (args, results) =>
        {
            int[] x = (int[])args[0];
            int[] scan = (int[])results[1];
            for (int k = 0; k < x.Length; k++)
            {
                int start = k & ~3;
                Assert.Equal(x[start..(k + 1)].Sum(), scan[k]);
            }
        }),
        ["shuffles within segments of 8 lanes"] = ShuffleWidthCase(8),
        ["shuffles within segments of 2 lanes"] = ShuffleWidthCase(2),
        ["bit counts: popcount, leading and trailing zeros, every width"] = new(IntrinsicKernels.BitCounts, rng =>
        {
            int[] x = [.. IntEdges, 0, 1 << 31, .. RandomInts(rng, 40, int.MinValue, int.MaxValue).Select(v => v >> rng.Next(32))];
            long[] l = x.Select((v, k) => k < LongEdges.Length ? LongEdges[k] : (long)v << rng.Next(32)).ToArray();
            return (Cover(x.Length), [x, l, Filled(x.Length * 9, -1)]);
        },
        (args, results) =>
        {
            int[] x = (int[])args[0];
            long[] l = (long[])args[1];
            int[] r = (int[])results[2];
            for (int k = 0; k < x.Length; k++)
            {
                // Independent references: bit loops.
                uint u = (uint)x[k];
                ulong w = (ulong)l[k];
                Assert.Equal(Enumerable.Range(0, 32).Count(b => ((u >> b) & 1) != 0), r[k * 9]);
                Assert.Equal(Enumerable.Range(0, 64).Count(b => ((w >> b) & 1) != 0), r[k * 9 + 1]);
                Assert.Equal(Enumerable.Range(0, 33).First(n => n == 32 || ((u << n) & 0x8000_0000u) != 0), r[k * 9 + 2]);
                Assert.Equal(Enumerable.Range(0, 33).First(n => n == 32 || ((u >> n) & 1) != 0), r[k * 9 + 4]);
                Assert.Equal(Enumerable.Range(0, 65).First(n => n == 64 || ((w >> n) & 1) != 0), r[k * 9 + 7]);
                Assert.Equal(8 + 63, r[k * 9 + 8]);
            }
        }),
        ["memory fences at group, device and system level"] = new(IntrinsicKernels.Fences, rng =>
            (Cover(45), [Filled(45, -1), Filled(46, 0)]),
            (args, results) =>
            {
                int[] flags = (int[])results[1];
                Assert.Equal(Enumerable.Range(0, 45).Select(k => k * 3 + 1), flags[..45]);
                Assert.Equal(45, flags[45]);
            }),
        ["bf16 views: loads, widening, rounding stores"] = new(IntrinsicKernels.BFloat16Views, rng =>
        {
            ushort[] edges = [0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0xFFFF, 0x0001, 0x8001, 0x007F, 0x7F7F, 0xFF7F];
            var x = new List<BFloat16>();
            var y = new List<BFloat16>();
            foreach (ushort a in edges)
            {
                foreach (ushort b in edges)
                {
                    x.Add(BFloat16.FromBits(a));
                    y.Add(BFloat16.FromBits(b));
                }
            }
            for (int k = 0; k < 64; k++)
            {
                x.Add(BFloat16.FromBits((ushort)rng.Next(65536)));
                y.Add((BFloat16)((float)rng.NextDouble() * 8 - 4));
            }
            int n = x.Count;
            return (Cover(n), [x.ToArray(), y.ToArray(), Filled(n * 2, float.NaN), Filled(n, BFloat16.FromBits(0xDEAD)), Filled(n * 3, (ushort)0xDEAD)]);
        },
        (args, results) =>
        {
            BFloat16[] x = (BFloat16[])args[0];
            BFloat16[] y = (BFloat16[])args[1];
            float[] wide = (float[])results[2];
            BFloat16[] sum = (BFloat16[])results[3];
            for (int k = 0; k < x.Length; k++)
            {
                // Independent of BFloat16: widening is a 16-bit shift, rounding is nearest-even on the float's bits.
                float a = BitConverter.UInt32BitsToSingle((uint)x[k].RawValue << 16);
                float b = BitConverter.UInt32BitsToSingle((uint)y[k].RawValue << 16);
                Assert.Equal(BitConverter.SingleToUInt32Bits(a), BitConverter.SingleToUInt32Bits(wide[k * 2]));
                if (float.IsNaN(a + b))
                {
                    Assert.True(BFloat16.IsNaN(sum[k]), $"element {k}: NaN expected");
                }
                else
                {
                    Assert.Equal(RoundToBFloat16Reference(a + b), sum[k].RawValue);
                }
            }
        }),
        ["bf16 in shared memory and through shuffles"] = new(IntrinsicKernels.BFloat16Shared, rng =>
        {
            int n = 128;
            BFloat16[] x = RandomFloats(rng, n, 100f).Select(v => (BFloat16)v).ToArray();
            return (KernelConfig.Linear(2, 64), [x, Filled(n, BFloat16.FromBits(0xDEAD))]);
        }),
    };

    /// <summary>
    /// The width shuffles against CUDA's segment rule written out independently: a source outside the
    /// caller's segment of min(width, warp size) lanes gives the caller's own value.
    /// </summary>
    private static Case ShuffleWidthCase(int width) => new(IntrinsicKernels.ShuffleWidths, rng =>
    {
        int n = 64;
        return (KernelConfig.Linear(2, 32), [RandomInts(rng, n), Filled(n * 6, 0x0BADL), width]);
    },
    (args, results) =>
    {
        int[] x = (int[])args[0];
        long[] r = (long[])results[1];
        for (int k = 0; k < x.Length; k++)
        {
            int warpSize = (int)r[k * 6 + 5];
            int w = Math.Min(width, warpSize);
            int inSeg = k % warpSize & (w - 1);
            int segment = k - inSeg;
            Assert.Equal(x[segment + (5 & (w - 1))], r[k * 6]);
            Assert.Equal(inSeg + 3 < w ? x[k + 3] : x[k], r[k * 6 + 1]);
            Assert.Equal(inSeg >= 2 ? x[k - 2] : x[k], r[k * 6 + 2]);
            int partner = inSeg ^ 6;
            Assert.Equal(partner < w ? x[segment + partner] : x[k], r[k * 6 + 3]);
            Assert.Equal((long)(inSeg + 1 < w ? x[k + 1] : x[k]) << 20, r[k * 6 + 4]);
        }
    });

    /// <summary>Round-to-nearest-even of a float to bf16 through double arithmetic, written without bit tricks.</summary>
    private static ushort RoundToBFloat16Reference(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        ushort down = (ushort)(bits >> 16);
        if ((bits & 0xFFFF) == 0)
        {
            return down;
        }
        ushort up = (ushort)(down + 1);
        double lo = BitConverter.UInt32BitsToSingle((uint)down << 16);
        double hi = (up & 0x7FFF) >= 0x7F80 ? Math.CopySign(double.PositiveInfinity, v) : BitConverter.UInt32BitsToSingle((uint)up << 16);
        // Magnitudes: the value lies strictly between the truncation and the next bf16 away from zero.
        double gapDown = Math.Abs(v - lo);
        double gapUp = double.IsInfinity(hi) ? Math.Abs(Math.CopySign(Math.Pow(2, 128), v) - v) : Math.Abs(hi - v);
        return gapDown < gapUp ? down : gapDown > gapUp ? up : (down & 1) == 0 ? down : up;
    }
}
