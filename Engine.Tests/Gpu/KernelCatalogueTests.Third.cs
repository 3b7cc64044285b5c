using Engine.Gpu;
using K = Engine.Tests.Gpu.CatalogueKernels3;

namespace Engine.Tests.Gpu;

/// <summary>The third batch of catalogue entries (kernels in CatalogueKernels3.cs): generic math and typeof dispatch.</summary>
public partial class KernelCatalogueTests
{
    private static float[] FloatsWithEdges(Random rng, int n) => [.. FloatEdges, .. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 12))))];

    private static Case CreateTruncatingCase<T>() where T : unmanaged, System.Numerics.INumberBase<T> => new(K.CreateTruncating<T>, rng =>
    {
        float[] f = FloatsWithEdges(rng, 40);
        int[] x = [.. IntEdges, .. Ints(rng, f.Length - IntEdges.Length, int.MinValue, int.MaxValue)];
        return (Cover(x.Length), [x, f, new T[2 * x.Length]]);
    });

    private static Case CreateSaturatingCase<T>() where T : unmanaged, System.Numerics.INumberBase<T> => new(K.CreateSaturating<T>, rng =>
    {
        double[] d = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e300, -1e300, 0.0, -0.0, 2.5, -2.5, 65535.9, 2147483647.5, -2147483648.9,
            .. Doubles(rng, 40, 1e10)];
        long[] x = [.. LongEdges, .. Longs(rng, d.Length - LongEdges.Length)];
        return (Cover(x.Length), [x, d, new T[2 * x.Length]]);
    });

    private static Case TypeDispatchCase<T>(Func<Random, T> make) where T : unmanaged => new(K.TypeDispatch<T>, rng =>
    {
        T[] x = Enumerable.Range(0, 70).Select(_ => make(rng)).ToArray();
        return (Cover(x.Length), [x, Filled(x.Length, float.NaN)]);
    });

    private static Case GenericNumbersCase<T>(Func<Random, T> make) where T : unmanaged, System.Numerics.INumber<T> => new(K.GenericNumbers<T>, rng =>
    {
        T[] x = Enumerable.Range(0, 70).Select(_ => make(rng)).ToArray();
        return (Cover(x.Length), [x, new T[2 * x.Length]]);
    });

    private static Case WarpReductionsCase<T>(Func<Random, T> make) where T : unmanaged, System.Numerics.INumber<T> => new(K.WarpReductions<T>, rng =>
    {
        T[] x = Enumerable.Range(0, 96).Select(_ => make(rng)).ToArray();
        return (Cover(x.Length), [x, new T[6 * x.Length]]);
    });

    private static Case GroupReductionsCase<T>(Func<Random, T> make) where T : unmanaged, System.Numerics.INumber<T> => new(K.GroupReductions<T>, rng =>
    {
        T[] x = Enumerable.Range(0, 192).Select(_ => make(rng)).ToArray();
        uint[] bits = Enumerable.Range(0, x.Length).Select(_ => 1u << rng.Next(32)).ToArray();
        return (KernelConfig.Linear(2, 96), [x, bits, new T[4 * x.Length], new uint[x.Length]]);
    });

    private static Dictionary<string, Case> ThirdBatchCases() => new()
    {
        ["group sum, max, min, broadcast and a user reduction: int"] = GroupReductionsCase(rng => rng.Next(-100000, 100000)),
        ["group sum, max, min, broadcast and a user reduction: double"] = GroupReductionsCase(rng => rng.NextDouble() * 2 - 1),
        ["warp sum, max, min, scans and broadcast: int"] = WarpReductionsCase(rng => rng.Next(-100000, 100000)),
        ["warp sum, max, min, scans and broadcast: float"] = WarpReductionsCase(rng => (float)(rng.NextDouble() * 200 - 100)),
        ["warp sum, max, min, scans and broadcast: long"] = WarpReductionsCase(rng => rng.NextInt64(long.MinValue / 64, long.MaxValue / 64)),
        ["warp sum, max, min, scans and broadcast: double"] = WarpReductionsCase(rng => rng.NextDouble() * 2 - 1),
        ["generic math: float.CreateTruncating from int and float"] = CreateTruncatingCase<float>(),
        ["generic math: double.CreateTruncating from int and float"] = CreateTruncatingCase<double>(),
        ["generic math: int.CreateTruncating from int and float (saturating, NaN to 0)"] = CreateTruncatingCase<int>(),
        ["generic math: long.CreateTruncating from int and float"] = CreateTruncatingCase<long>(),
        ["generic math: short.CreateTruncating from int and float"] = CreateTruncatingCase<short>(),
        ["generic math: int.CreateSaturating from long and double"] = CreateSaturatingCase<int>(),
        ["generic math: ushort.CreateSaturating from long and double"] = CreateSaturatingCase<ushort>(),
        ["generic math: float.CreateSaturating from long and double"] = CreateSaturatingCase<float>(),
        ["typeof dispatch with (T)(object) casts: float"] = TypeDispatchCase(rng => (float)rng.NextDouble()),
        ["typeof dispatch with (T)(object) casts: int"] = TypeDispatchCase(rng => rng.Next()),
        ["typeof dispatch with (T)(object) casts: long"] = TypeDispatchCase(rng => rng.NextInt64()),
        ["typeof dispatch with (T)(object) casts: double (no branch taken)"] = TypeDispatchCase(rng => rng.NextDouble()),
        ["generic numbers (Zero, One, operators, Max, Abs): int"] = GenericNumbersCase(rng => rng.Next(-1000, 1000)),
        ["generic numbers (Zero, One, operators, Max, Abs): double"] = GenericNumbersCase(rng => rng.NextDouble() * 10 - 5),
    };
}

/// <summary>The warp reductions against plain arithmetic over each warp's values, at warp sizes 4 and 32.</summary>
public class WarpReductionTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(32)]
    public void IntegerReductionsAndScansEqualPlainArithmetic(int warpSize)
    {
        var rng = new Random(Environment.TickCount);
        int[] x = Enumerable.Range(0, 128).Select(_ => rng.Next(-1000, 1000)).ToArray();
        using var cpu = new CpuAccelerator(warpSize);
        using var vx = cpu.Allocate<int>(x);
        using var vr = cpu.Allocate<int>(Enumerable.Repeat(int.MinValue, 6 * x.Length).ToArray());
        cpu.Launch((Action<ArrayView<int>, ArrayView<int>>)CatalogueKernels3.WarpReductions<int>, KernelConfig.Linear(x.Length / 64, 64), vx.View, vr.View);
        int[] r = vr.GetAsArray();
        for (int i = 0; i < x.Length; i++)
        {
            int first = i / warpSize * warpSize;
            ArraySegment<int> warp = new(x, first, warpSize);
            Assert.Equal(warp.Sum(), r[6 * i]);
            Assert.Equal(warp.Max(), r[6 * i + 1]);
            Assert.Equal(warp.Min(), r[6 * i + 2]);
            Assert.Equal(x[first..(i + 1)].Sum(), r[6 * i + 3]);
            Assert.Equal(x[first..i].Sum(), r[6 * i + 4]);
            Assert.Equal(x[first + 3], r[6 * i + 5]);
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(32)]
    public void GroupReductionsEqualPlainArithmetic(int warpSize)
    {
        var rng = new Random(Environment.TickCount);
        int group = 96;
        int[] x = Enumerable.Range(0, 2 * group).Select(_ => rng.Next(-1000, 1000)).ToArray();
        uint[] bits = Enumerable.Range(0, x.Length).Select(_ => 1u << rng.Next(32)).ToArray();
        using var cpu = new CpuAccelerator(warpSize);
        using var vx = cpu.Allocate<int>(x);
        using var vb = cpu.Allocate<uint>(bits);
        using var vr = cpu.Allocate<int>(Enumerable.Repeat(int.MinValue, 4 * x.Length).ToArray());
        using var vo = cpu.Allocate<uint>(x.Length);
        cpu.Launch((Action<ArrayView<int>, ArrayView<uint>, ArrayView<int>, ArrayView<uint>>)CatalogueKernels3.GroupReductions<int>, KernelConfig.Linear(2, group), vx.View, vb.View, vr.View, vo.View);
        int[] r = vr.GetAsArray();
        uint[] o = vo.GetAsArray();
        for (int i = 0; i < x.Length; i++)
        {
            int first = i / group * group;
            ArraySegment<int> g = new(x, first, group);
            Assert.Equal(g.Sum(), r[4 * i]);
            Assert.Equal(g.Max(), r[4 * i + 1]);
            Assert.Equal(g.Min(), r[4 * i + 2]);
            Assert.Equal(x[first + 5], r[4 * i + 3]);
            Assert.Equal(new ArraySegment<uint>(bits, first, group).Aggregate(0u, (a, b) => a | b), o[i]);
        }
    }
}
