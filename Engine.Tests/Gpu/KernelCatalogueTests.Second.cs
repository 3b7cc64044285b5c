using Engine.Gpu;
using Engine.Numerics;
using Xunit;
using K = Engine.Tests.Gpu.CatalogueKernels2;

namespace Engine.Tests.Gpu;

/// <summary>The second batch of catalogue entries (kernels in CatalogueKernels2.cs), same rules as the first.</summary>
public partial class KernelCatalogueTests
{
    private static int[] Ints(Random rng, int n, int lo, int hi) => Enumerable.Range(0, n).Select(_ => rng.Next(lo, hi)).ToArray();

    private static uint[] UInts(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (uint)rng.NextInt64(0, 1L << 32)).ToArray();

    private static long[] Longs(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.NextInt64(long.MinValue, long.MaxValue) >> rng.Next(60)).ToArray();

    private static double[] Doubles(Random rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>Small integers as bf16 bits: products and sums of them are exact in fp32, whatever the order.</summary>
    private static ushort[] SmallBf16(Random rng, int n) =>
        Enumerable.Range(0, n).Select(_ => (ushort)(BitConverter.SingleToUInt32Bits(rng.Next(-4, 5)) >> 16)).ToArray();

    private static Dictionary<string, Case> SecondBatchCases() => new()
    {
        ["rotates on uint and ulong (BitOperations)"] = new(K.Rotates, rng =>
        {
            int n = 90;
            return (Cover(n), [UInts(rng, n), Longs(rng, n).Select(v => (ulong)v).ToArray(), Filled(4 * n, 7ul)]);
        }),
        ["Math.Abs, Sign and Clamp on int, uint and long"] = new(K.AbsSignClamp, rng =>
        {
            int[] x = [.. IntEdges, .. Ints(rng, 40, -5000, 5000)];
            long[] y = [.. LongEdges, .. Longs(rng, x.Length - LongEdges.Length)];
            return (Cover(x.Length), [x, y, Filled(6 * x.Length, -9L)]);
        }),
        ["compound assignments"] = new(K.CompoundAssignments, rng =>
        {
            int[] x = [.. IntEdges, .. Ints(rng, 60, int.MinValue, int.MaxValue)];
            return (Cover(x.Length), [x, Filled(x.Length, -9)]);
        }),
        ["signed against unsigned comparisons"] = new(K.MixedSignCompares, rng =>
        {
            var (x, y) = Pairs(IntEdges, r => r.Next(int.MinValue, int.MaxValue), rng);
            return (Cover(x.Length), [x, y.Select(v => (uint)v).ToArray(), Filled(x.Length, -1)]);
        }),
        ["byte and short arithmetic that wraps"] = new(K.SmallWrap, rng =>
        {
            int n = 120;
            return (Cover(n), [Enumerable.Range(0, n).Select(_ => (byte)rng.Next(256)).ToArray(), Enumerable.Range(0, n).Select(_ => (short)rng.Next(-32768, 32768)).ToArray(), Filled(4 * n, -1)]);
        }),
        ["division and remainder by powers of two, negative numbers"] = new(K.DivisionByPowersOfTwo, rng =>
        {
            int[] x = [.. IntEdges, .. Ints(rng, 50, -100000, 100000)];
            long[] y = [.. LongEdges, .. Longs(rng, x.Length - LongEdges.Length)];
            return (Cover(x.Length), [x, y, Filled(8 * x.Length, -9L)]);
        }),
        ["64-bit division by run-time divisors"] = new(K.DivisionByVariables, rng =>
        {
            var (x, y) = Pairs(LongEdges, r => r.NextInt64(long.MinValue, long.MaxValue) >> r.Next(62), rng);
            return (Cover(x.Length), [x, y, Filled(4 * x.Length, -9L)]);
        }),
        ["bool logic: xor, and, or, not, ternaries"] = new(K.BoolLogic, rng =>
        {
            int[] x = Ints(rng, 70, -50, 50);
            return (Cover(x.Length), [x, new bool[5 * x.Length]]);
        }),
        ["Euclid's gcd in a while loop"] = new(K.GcdLoops, rng =>
        {
            int n = 80;
            return (Cover(n), [UInts(rng, n), UInts(rng, n).Select((v, k) => k % 9 == 0 ? 0u : v % 100000).ToArray(), Filled(n, 99u)]);
        },
        (args, results) =>
        {
            uint[] a = (uint[])args[0], b = (uint[])args[1], g = (uint[])results[2];
            for (int k = 0; k < a.Length; k++)
            {
                Assert.Equal((uint)System.Numerics.BigInteger.GreatestCommonDivisor(a[k], b[k]), g[k]);
            }
        }),
        ["Collatz steps: data-dependent trip counts"] = new(K.CollatzSteps, rng =>
        {
            long[] x = Enumerable.Range(0, 64).Select(k => (long)rng.Next(1, 100000)).ToArray();
            return (Cover(x.Length), [x, Filled(x.Length, -1)]);
        }),
        ["bit tricks: lowest bit, log2, power of two"] = new(K.BitTricks, rng =>
        {
            uint[] x = [.. IntEdges.Select(v => (uint)v), .. UInts(rng, 50)];
            return (Cover(x.Length), [x, Filled(6 * x.Length, 7u)]);
        }),
        ["32x32 to 64-bit multiplies, signed and unsigned"] = new(K.WideMultiply, rng =>
        {
            uint[] x = [.. IntEdges.Select(v => (uint)v), .. UInts(rng, 40)];
            uint[] y = [.. UInts(rng, IntEdges.Length), .. IntEdges.Select(v => (uint)v).Take(40), .. UInts(rng, Math.Max(0, 40 - IntEdges.Length))];
            return (Cover(x.Length), [x, y[..x.Length], Filled(3 * x.Length, 7ul)]);
        }),
        ["float comparisons with NaN, all six operators"] = new(K.NanCompares, rng =>
        {
            var (x, y) = Pairs(FloatEdges, RandomFloat, rng);
            return (Cover(x.Length), [x, y, Filled(x.Length, -1)]);
        }),
        ["Horner polynomial in double"] = new(K.Horner, rng =>
        {
            double[] x = [.. FloatEdges.Select(v => (double)v), .. Doubles(rng, 40, 10)];
            return (Cover(x.Length), [x, Filled(x.Length, double.NaN)]);
        }),
        ["Kahan summation (no contraction into fma)"] = new(K.KahanSum, rng =>
        {
            int threads = 20, per = 50;
            float[] x = Enumerable.Range(0, threads * per).Select(k => k % 7 == 0 ? 1e7f : (float)(rng.NextDouble() * 1e-3)).ToArray();
            return (Cover(threads), [x, Filled(2 * threads, float.NaN), per]);
        }),
        ["Newton iterations for a square root"] = new(K.NewtonSqrt, rng =>
        {
            double[] x = [.. Doubles(rng, 40, 1e6), 0, 1, 1e12];
            return (Cover(x.Length), [x, Filled(x.Length, double.NaN)]);
        },
        (args, results) =>
        {
            double[] x = (double[])args[0], r = (double[])results[1];
            for (int k = 0; k < x.Length; k++)
            {
                double expected = Math.Sqrt(Math.Abs(x[k]) + 1);
                Assert.True(Math.Abs(r[k] - expected) <= 1e-12 * expected, $"sqrt({x[k]}): {r[k]} vs {expected}");
            }
        }),
        ["rounding: Round, Floor, Ceiling, Truncate at halves"] = new(K.RoundingModes, rng =>
        {
            float[] x = [.. FloatEdges, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 1e7f + 0.5f, .. RandomFloats(rng, 30, 100f)];
            return (Cover(x.Length), [x, Filled(6 * x.Length, float.NaN)]);
        }),
        ["signed zeros and subnormals through arithmetic"] = new(K.SignedZerosAndSubnormals, rng =>
        {
            float[] x = [.. FloatEdges, 1e-38f, -1e-39f, 1e-45f, .. RandomFloats(rng, 20, 1e-30f)];
            return (Cover(x.Length), [x, Filled(5 * x.Length, float.NaN)]);
        }),
        ["long to double and float at the edges of precision"] = new(K.DoubleFromLongEdges, rng =>
        {
            long[] x = [.. LongEdges, (1L << 54) + 3, (1L << 24) + 1, -(1L << 53) - 1, .. Longs(rng, 30)];
            return (Cover(x.Length), [x, Filled(4 * x.Length, double.NaN)]);
        }),
        ["switch on char with patterns"] = new(K.SwitchOnChar, rng =>
        {
            char[] x = [.. "aeiou AZ09xyz!~", .. Enumerable.Range(0, 50).Select(_ => (char)rng.Next(32, 127))];
            return (Cover(x.Length), [x, Filled(x.Length, -1)]);
        }),
        ["goto out of nested loops"] = new(K.LabeledLoops, rng =>
        {
            int[] x = [.. Ints(rng, 60, 0, 400), 1, 361, 0, 397];
            return (Cover(x.Length), [x, Filled(x.Length, -7)]);
        }),
        ["early returns from a nested helper"] = new(K.NestedEarlyReturns, rng =>
        {
            int[] x = [.. Ints(rng, 60, -300, 3000), 0, 1, 2, 97, 91, -101];
            return (Cover(x.Length), [x, Filled(x.Length, -7)]);
        }),
        ["binary search in a sorted view"] = new(K.BinarySearch, rng =>
        {
            int[] sorted = Ints(rng, 200, -1000, 1000).Distinct().Order().ToArray();
            int[] keys = [.. sorted.Where((_, k) => k % 5 == 0), .. Ints(rng, 40, -1100, 1100)];
            return (Cover(keys.Length), [sorted, keys, Filled(keys.Length, 77)]);
        },
        (args, results) =>
        {
            int[] sorted = (int[])args[0], keys = (int[])args[1], r = (int[])results[2];
            for (int k = 0; k < keys.Length; k++)
            {
                Assert.Equal(Array.BinarySearch(sorted, keys[k]) is var at && at >= 0 ? at : at, r[k]);
            }
        }),
        ["a loop with three exits"] = new(K.MultiExitLoop, rng =>
        {
            float[] x = RandomFloats(rng, 100, 3f);
            return (Cover(60), [x, Filled(60, -9), 40]);
        }),
        ["ternary chains on double"] = new(K.TernaryChains, rng =>
        {
            double[] x = [.. FloatEdges.Select(v => (double)v), .. Doubles(rng, 30, 200)];
            return (Cover(x.Length), [x, Filled(x.Length, double.NaN)]);
        }),
        ["switch statement with shared cases and goto case"] = new(K.SwitchStatementFallthroughs, rng =>
        {
            int[] x = Ints(rng, 64, -100, 100);
            return (Cover(x.Length), [x, Filled(x.Length, -9)]);
        }),
        ["sorting network in a register array"] = new(K.SortingNetwork, rng =>
        {
            int[] x = Ints(rng, 8 * 30, -50, 50);
            return (Cover(30), [x, Filled(x.Length, 999)]);
        },
        (args, results) =>
        {
            int[] x = (int[])args[0], r = (int[])results[1];
            for (int t = 0; t < 30; t++)
            {
                Assert.Equal(x[(t * 8)..(t * 8 + 8)].Order(), r[(t * 8)..(t * 8 + 8)]);
            }
        }),
        ["4x4 matrix product in registers"] = new(K.RegisterMatrixProduct, rng =>
        {
            int n = 20;
            return (Cover(n), [RandomFloats(rng, 16 * n), RandomFloats(rng, 16 * n), Filled(16 * n, float.NaN)]);
        }),
        ["prefix sum and reversal in registers"] = new(K.RegisterPrefixAndReverse, rng =>
            (Cover(25), [Ints(rng, 200, -1000, 1000), Filled(200, 0)])),
        ["run-time indexed histogram in registers"] = new(K.RegisterHistogram, rng =>
            (Cover(20), [Ints(rng, 20 * 37, 0, 1000), Filled(8 * 20, -1), 37]),
            (args, results) =>
            {
                int[] x = (int[])args[0], r = (int[])results[1];
                for (int t = 0; t < 20; t++)
                {
                    for (int b = 0; b < 8; b++)
                    {
                        Assert.Equal(x[(t * 37)..(t * 37 + 37)].Count(v => (v & 7) == b), r[t * 8 + b]);
                    }
                }
            }),
        ["struct of byte, short, int, double, long"] = new(K.MixedStructs, rng =>
        {
            Mixed[] x = Enumerable.Range(0, 50).Select(_ => new Mixed { Tag = (byte)rng.Next(256), Small = (short)rng.Next(-30000, 30000), Count = rng.Next(), Weight = rng.NextDouble() * 1e6, Big = rng.NextInt64() }).ToArray();
            return (Cover(x.Length), [x, new Mixed[x.Length]]);
        }),
        ["readonly struct with properties returning new structs"] = new(K.ComplexPowers, rng =>
        {
            Complex[] x = Enumerable.Range(0, 40).Select(_ => new Complex((float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1))).ToArray();
            return (Cover(x.Length), [x, new Complex[x.Length]]);
        }),
        ["struct arrays in shared memory"] = new(K.StructsInSharedMemory, rng =>
        {
            Vec2[] x = Enumerable.Range(0, 150).Select(_ => new Vec2(RandomFloat(rng), RandomFloat(rng))).ToArray();
            return (KernelConfig.Linear(3, 64), [x, Filled(150, new Vec2(float.NaN, float.NaN))]);
        }),
        ["structs through ref parameters of helpers (arg max)"] = new(K.StructByRefHelpers, rng =>
        {
            float[] x = Enumerable.Range(0, 20 * 16).Select(_ => (float)rng.Next(-20, 20)).ToArray();
            return (Cover(20), [x, new Ranked[20], 16]);
        }),
        ["block reversal through shared memory"] = new(K.BlockReverse, rng =>
            (KernelConfig.Linear(3, 128), [Ints(rng, 384, -1000, 1000), Filled(384, 0)])),
        ["block scan, Hillis-Steele double buffer"] = new(K.BlockScanHillisSteele, rng =>
            (KernelConfig.Linear(2, 128), [Ints(rng, 256, -100, 100), Filled(256, 0)]),
            (args, results) =>
            {
                int[] x = (int[])args[0], r = (int[])results[1];
                for (int g = 0; g < 2; g++)
                {
                    int sum = 0;
                    for (int t = 0; t < 128; t++)
                    {
                        sum += x[g * 128 + t];
                        Assert.Equal(sum, r[g * 128 + t]);
                    }
                }
            }),
        ["block max reduction, partial last group"] = new(K.BlockMaxReduction, rng =>
            (KernelConfig.Linear(3, 128), [RandomFloats(rng, 300, 100f), Filled(3, float.NaN)])),
        ["transpose through a padded shared tile, 2D groups"] = new(K.PaddedTranspose, rng =>
            (new KernelConfig(new Index3D(3, 2), new Index3D(8, 8)), [RandomFloats(rng, 21 * 13), Filled(21 * 13, float.NaN), 21, 13]),
            (args, results) =>
            {
                float[] x = (float[])args[0], r = (float[])results[1];
                for (int row = 0; row < 13; row++)
                {
                    for (int col = 0; col < 21; col++)
                    {
                        Assert.Equal(x[row * 21 + col], r[col * 13 + row]);
                    }
                }
            }),
        ["bitonic sort in shared memory"] = new(K.SharedBitonicSort, rng =>
            (KernelConfig.Linear(2, 64), [Ints(rng, 128, -500, 500), Filled(128, 0)]),
            (args, results) =>
            {
                int[] x = (int[])args[0], r = (int[])results[1];
                Assert.Equal(x[..64].Order(), r[..64]);
                Assert.Equal(x[64..].Order(), r[64..]);
            }),
        ["1D stencil with halo cells"] = new(K.Stencil1D, rng =>
            (KernelConfig.Linear(3, 64), [RandomFloats(rng, 170), Filled(170, float.NaN)])),
        ["histogram in shared memory, then global atomics"] = new(K.SharedThenGlobalHistogram, rng =>
            (KernelConfig.Covering(500, 64), [Ints(rng, 500, 0, 100000), new int[32]]),
            (args, results) =>
            {
                int[] x = (int[])args[0], bins = (int[])results[1];
                for (int b = 0; b < 32; b++)
                {
                    Assert.Equal(x.Count(v => ((v >> 3) & 31) == b), bins[b]);
                }
            }),
        ["matrix-vector product with the vector in shared memory"] = new(K.MatrixVectorTile, rng =>
            (KernelConfig.Covering(40, 32), [RandomFloats(rng, 40 * 70), RandomFloats(rng, 70), Filled(40, float.NaN), 70])),
        ["dynamic shared memory of doubles"] = new(K.DynamicSharedDoubles, rng =>
            (new KernelConfig(new Index3D(2), new Index3D(64), 64 * 8), [Doubles(rng, 128, 100), Filled(128, double.NaN)])),
        ["warp max with ShuffleDown"] = new(K.WarpMaxDown, rng =>
            (KernelConfig.Linear(2, 64), [RandomFloats(rng, 128, 50f), Filled(128, float.NaN)])),
        ["warp inclusive scan with ShuffleUp"] = new(K.WarpInclusiveScan, rng =>
            (KernelConfig.Linear(2, 64), [Ints(rng, 128, -100, 100), Filled(128, 0)])),
        ["stream compaction with Ballot and PopCount"] = new(K.BallotCompaction, rng =>
            (KernelConfig.Linear(2, 64), [Ints(rng, 128, 0, 1000), Filled(128, -1), Filled(32, -1)])),
        ["warp All and Any"] = new(K.WarpAllAny, rng =>
        {
            int[] x = Ints(rng, 96, -5, 100);
            for (int k = 32; k < 64; k++)
            {
                x[k] = Math.Abs(x[k]);
            }
            return (KernelConfig.Linear(3, 32), [x, Filled(96, -1)]);
        }),
        ["broadcast from the first and last lane (long)"] = new(K.WarpBroadcastFromLeader, rng =>
            (KernelConfig.Linear(2, 64), [Longs(rng, 128), Filled(128, 0L)])),
        ["warp arg-max of struct values through ShuffleXor"] = new(K.WarpArgMax, rng =>
            (KernelConfig.Linear(2, 64), [Enumerable.Range(0, 128).Select(_ => (float)rng.Next(-30, 30)).ToArray(), new Ranked[128]])),
        ["warp butterfly sum of doubles"] = new(K.WarpDoubleSum, rng =>
            (KernelConfig.Linear(2, 64), [Doubles(rng, 128, 1e3), Filled(128, double.NaN)])),
        ["segmented sums with width-4 shuffles"] = new(K.SegmentedSums, rng =>
            (KernelConfig.Linear(2, 64), [Ints(rng, 128, -100, 100), Filled(128, 0)])),
        ["atomic Or into a bitset"] = new(K.AtomicBitset, rng =>
            (Cover(300), [Ints(rng, 300, 0, 100000), new uint[8]]),
            (args, results) =>
            {
                int[] x = (int[])args[0];
                uint[] bits = (uint[])results[1];
                for (int v = 0; v < 256; v++)
                {
                    Assert.Equal(x.Any(e => (e & 255) == v), (bits[v >> 5] & (1u << (v & 31))) != 0);
                }
            }),
        ["atomic long max, min and add"] = new(K.AtomicLongMaxMin, rng =>
        {
            long[] x = Longs(rng, 200);
            return (Cover(x.Length), [x, new[] { long.MinValue, long.MaxValue, 0L }]);
        },
        (args, results) =>
        {
            long[] x = (long[])args[0], r = (long[])results[1];
            Assert.Equal(x.Max(), r[0]);
            Assert.Equal(x.Min(), r[1]);
            Assert.Equal(x.Sum(v => v & 0xFFFF), r[2]);
        }),
        ["atomic counts per group"] = new(K.AtomicPerGroupCounts, rng =>
            (KernelConfig.Linear(5, 32), [Ints(rng, 150, -10, 10), new int[5]])),
        ["atomic And and Xor"] = new(K.AtomicAndMask, rng =>
            (Cover(100), [UInts(rng, 100), new[] { uint.MaxValue, 0u }])),
        ["SubView of a SubView"] = new(K.SubViewChains, rng =>
            (Cover(60), [Ints(rng, 60, -100, 100), Filled(60, 7)])),
        ["Cast<int> of a float view"] = new(K.CastFloatBits, rng =>
            (Cover(FloatEdges.Length), [FloatEdges.ToArray(), Filled(FloatEdges.Length, -1)])),
        ["Cast of a struct view to words"] = new(K.CastStructToWords, rng =>
        {
            Vec2[] x = Enumerable.Range(0, 30).Select(_ => new Vec2(RandomFloat(rng), RandomFloat(rng))).ToArray();
            return (Cover(60), [x, Filled(60, 7u)]);
        }),
        ["3x3 blur on a 2D grid of 2D groups"] = new(K.Blur2D, rng =>
            (new KernelConfig(new Index3D(3, 3), new Index3D(8, 4)), [RandomFloats(rng, 19 * 11), Filled(19 * 11, float.NaN), 19, 11])),
        ["3D grid of 3D groups indexing a volume"] = new(K.VolumeIndex, rng =>
            (new KernelConfig(new Index3D(2, 3, 4), new Index3D(4, 2, 2)), [Filled(5 * 6 * 7, -1), 5, 6, 7])),
        ["grid-stride saxpy over more elements than threads"] = new(K.GridStrideSaxpy, rng =>
            (KernelConfig.Linear(3, 32), [RandomFloats(rng, 500), RandomFloats(rng, 500), 1.75f])),
        ["bf16 round trips and rounding error"] = new(K.BFloat16RoundTrips, rng =>
        {
            float[] x = [.. FloatEdges, .. RandomFloats(rng, 40, 1000f)];
            return (Cover(x.Length), [x, Filled(x.Length, BFloat16.NaN), Filled(2 * x.Length, float.NaN)]);
        }),
        ["packed bf16 pairs and unpacking"] = new(K.PackedPairs, rng =>
        {
            float[] x = [.. FloatEdges.Where(v => !float.IsNaN(v)), .. RandomFloats(rng, 41, 100f)];
            return (Cover(x.Length / 2), [x, Filled(x.Length / 2, 7u), Filled(x.Length, float.NaN)]);
        }),
        ["Half arithmetic through float"] = new(K.HalfArithmetic, rng =>
        {
            Half[] x = [.. FloatEdges.Select(v => (Half)v), .. RandomFloats(rng, 30, 300f).Select(v => (Half)v)];
            return (Cover(x.Length), [x, Filled(2 * x.Length, Half.NaN)]);
        }),
        ["generic reduction <IntAdd>"] = GenericReduceCase<IntAdd>(),
        ["generic reduction <IntMax>"] = GenericReduceCase<IntMax>(),
        ["generic reduction <IntXor>"] = GenericReduceCase<IntXor>(),
        ["cp.async of 8 bytes, two groups, Wait(1) then Wait(0)"] = new(K.AsyncCopyTwoGroups, rng =>
            (KernelConfig.Linear(2, 64), [Longs(rng, 128), Filled(128, 0L)])),
        ["mma bf16 chained over three k steps"] = new(K.MmaAccumulateSteps, rng =>
            (KernelConfig.Linear(1, 32), [SmallBf16(rng, 3 * 256), SmallBf16(rng, 3 * 128), Filled(128, float.NaN), 3]),
            (args, results) =>
            {
                ushort[] a = (ushort[])args[0], b = (ushort[])args[1];
                float[] d = (float[])results[2];
                static float F(ushort h) => BitConverter.UInt32BitsToSingle((uint)h << 16);
                for (int row = 0; row < 16; row++)
                {
                    for (int col = 0; col < 8; col++)
                    {
                        float expected = 0;
                        for (int s = 0; s < 3; s++)
                        {
                            for (int k = 0; k < 16; k++)
                            {
                                expected += F(a[s * 256 + row * 16 + k]) * F(b[s * 128 + k * 8 + col]);
                            }
                        }
                        Assert.Equal(expected, d[row * 8 + col]);
                    }
                }
            }, WarpSizes: [32]),
        ["ldmatrix x2 without transpose"] = new(K.LdmatrixPlainX2, rng =>
            (KernelConfig.Linear(1, 32), [Enumerable.Range(0, 256).Select(_ => (ushort)rng.Next(65536)).ToArray(), Filled(64, 7u)]),
            (args, results) =>
            {
                ushort[] a = (ushort[])args[0];
                uint[] r = (uint[])results[1];
                for (int lane = 0; lane < 32; lane++)
                {
                    // Matrix j (rows 8j..8j+7 of the 16x16 tile, columns 0..7): lane holds row lane/4, columns 2(lane%4) and +1.
                    for (int j = 0; j < 2; j++)
                    {
                        int row = j * 8 + lane / 4, col = (lane % 4) * 2;
                        Assert.Equal(a[row * 16 + col] | ((uint)a[row * 16 + col + 1] << 16), r[2 * lane + j]);
                    }
                }
            }, WarpSizes: [32]),
        ["Math.Min and Max on every integer type"] = new(K.MinMaxAllInts, rng =>
        {
            var (x, y) = Pairs(LongEdges, r => r.NextInt64(long.MinValue, long.MaxValue) >> r.Next(50), rng);
            return (Cover(x.Length), [x, y, Filled(8 * x.Length, -9L)]);
        }),
        ["double comparisons with NaN"] = new(K.DoubleNanCompares, rng =>
        {
            var (x, y) = Pairs(FloatEdges.Select(v => (double)v).ToArray(), r => RandomFloat(r) * 1.0000001, rng);
            return (Cover(x.Length), [x, y, Filled(x.Length, -1)]);
        }),
        ["ulong and uint shifts by run-time counts"] = new(K.ShiftsByVariable, rng =>
        {
            ulong[] x = Longs(rng, 80).Select(v => (ulong)v).ToArray();
            int[] c = Enumerable.Range(0, 80).Select(k => k < 70 ? k : rng.Next(-200, 200)).ToArray();
            return (Cover(x.Length), [x, c, Filled(4 * x.Length, 7ul)]);
        }),
        ["do-while with continue: digit sums"] = new(K.DigitSum, rng =>
            (Cover(LongEdges.Length + 30), [LongEdges.Concat(Longs(rng, 30)).ToArray(), Filled(LongEdges.Length + 30, -1)])),
        ["out parameters of a helper"] = new(K.OutParams, rng =>
        {
            int[] x = [.. Ints(rng, 60, -100000, 100000), int.MinValue, int.MaxValue];
            return (Cover(x.Length), [x, Filled(2 * x.Length, 0)]);
        }),
        ["generic ref swap of view elements"] = new(K.RefSwap, rng =>
            (Cover(40), [RandomFloats(rng, 80), Ints(rng, 80, 0, 1000)])),
        ["char arithmetic: case flip"] = new(K.CharCase, rng =>
        {
            char[] x = [.. "Hello, World 42!", .. Enumerable.Range(0, 40).Select(_ => (char)rng.Next(0, 200))];
            return (Cover(x.Length), [x, new char[x.Length]]);
        }),
        ["CRC-32 of a word, bit by bit"] = new(K.Crc32Bytes, rng =>
            (Cover(64), [UInts(rng, 64), Filled(64, 0u)]),
            (args, results) =>
            {
                // Independent: the table-driven form, and the standard check value of "123456789".
                uint[] table = Enumerable.Range(0, 256).Select(n =>
                {
                    uint c = (uint)n;
                    for (int k = 0; k < 8; k++)
                    {
                        c = (c >> 1) ^ (0xEDB88320u & (uint)-(int)(c & 1));
                    }
                    return c;
                }).ToArray();
                uint Crc(byte[] bytes) => ~bytes.Aggregate(0xFFFFFFFFu, (c, b) => table[(c ^ b) & 0xFF] ^ (c >> 8));
                Assert.Equal(0xCBF43926u, Crc("123456789"u8.ToArray()));
                uint[] x = (uint[])args[0], r = (uint[])results[1];
                for (int k = 0; k < x.Length; k++)
                {
                    Assert.Equal(Crc(BitConverter.GetBytes(x[k])), r[k]);
                }
            }),
        ["guards made constant by unrolling"] = new(K.ConstantGuardsAfterUnrolling, rng =>
            (Cover(10), [Ints(rng, 80, -1000, 1000), Filled(10, 7)])),
        ["FNV-1a hash with 64-bit multiplies"] = new(K.Fnv1a, rng =>
            (Cover(20), [Ints(rng, 20 * 9, int.MinValue, int.MaxValue), Filled(20, 0ul), 9])),
    };

    /// <summary>Issue #3 asks for at least 150 test kernels; generic specialisations count as the distinct kernels they compile to.</summary>
    [Fact]
    public void TheCatalogueHasAtLeast150DistinctKernels()
    {
        int kernels = Cases.Values.Select(c => c.Kernel.Method).Distinct().Count();
        TestContext.Current.TestOutputHelper?.WriteLine($"{Cases.Count} cases, {kernels} distinct kernels");
        Assert.True(kernels >= 150, $"{kernels} distinct kernels in {Cases.Count} cases");
    }

    private static Case GenericReduceCase<TOp>() where TOp : struct, IIntOp => new(CatalogueKernels2.GenericReduce<TOp>, rng =>
        (Cover(24), [Ints(rng, 24 * 13, -100000, 100000), Filled(24, 7), 13]),
        (args, results) =>
        {
            int[] x = (int[])args[0], r = (int[])results[1];
            for (int t = 0; t < 24; t++)
            {
                Assert.Equal(x[(t * 13)..(t * 13 + 13)].Aggregate(TOp.Identity, TOp.Apply), r[t]);
            }
        });
}
